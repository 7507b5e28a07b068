"""The middleware chain: `async def mw(request, ctx, call_next) -> Response`.

Factories validate their configuration once, when the app is built, and return a
named inner function. List order is execution order; the first is outermost.

Every layer's `call_next` returns a Response, never raises: `compose` puts a boundary
around each layer (and the router) that hands an escaping exception to the one
renderer, `errors.error_response` (the way Hono's `compose` calls `onError` at every
level). An error raised by the rate limiter or a handler is therefore decorated by every
layer outside it exactly like a success; layer order is about what runs first, never
about who can see an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from devcapsules.context import Context
from devcapsules.errors import error_response
from devcapsules.http import Request, Response

CallNext = Callable[[Request, Context], Awaitable[Response]]
Middleware = Callable[[Request, Context, CallNext], Awaitable[Response]]


def compose(middlewares: Sequence[Middleware], endpoint: CallNext) -> CallNext:
    """Build the chain once. Each layer may call `call_next` at most once per request."""
    handler = _bounded(endpoint)
    for middleware in reversed(middlewares):
        handler = _link(middleware, handler)
    return handler


def _bounded(endpoint: CallNext) -> CallNext:
    async def bounded(request: Request, ctx: Context) -> Response:
        try:
            return await endpoint(request, ctx)
        except Exception as exc:
            return error_response(exc, ctx)

    return bounded


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

        try:
            response = await middleware(request, ctx, guarded_next)
            if not isinstance(response, Response):
                name = type(response).__name__
                raise TypeError(f"Middleware {middleware.__name__} returned {name}")
        except Exception as exc:
            return error_response(exc, ctx)
        return response

    linked.__name__ = f"linked_{middleware.__name__}"
    return linked
