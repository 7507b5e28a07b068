"""The middleware chain: `async def mw(request, ctx, call_next) -> Response`.

Factories validate their configuration once, when the app is built, and return a
named inner function. List order is execution order; the first is outermost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from devcapsules.context import Context
from devcapsules.http import Request, Response

CallNext = Callable[[Request, Context], Awaitable[Response]]
Middleware = Callable[[Request, Context, CallNext], Awaitable[Response]]


def compose(middlewares: Sequence[Middleware], endpoint: CallNext) -> CallNext:
    """Build the chain once. Each layer may call `call_next` at most once per request."""
    handler = endpoint
    for middleware in reversed(middlewares):
        handler = _link(middleware, handler)
    return handler


def _link(middleware: Middleware, call_next: CallNext) -> CallNext:
    async def linked(request: Request, ctx: Context) -> Response:
        called = False

        # Not a coroutine itself: it hands back the next layer's, so the guard adds no
        # frame per layer to every request.
        def guarded_next(req: Request, c: Context) -> Awaitable[Response]:
            nonlocal called
            if called:
                raise RuntimeError(f"{middleware.__name__} called call_next twice")
            called = True
            return call_next(req, c)

        response = await middleware(request, ctx, guarded_next)
        if not isinstance(response, Response):
            raise TypeError(f"Middleware {middleware.__name__} returned {type(response).__name__}")
        return response

    linked.__name__ = f"linked_{middleware.__name__}"
    return linked
