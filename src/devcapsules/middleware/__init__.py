"""The middleware types: `async def mw(request, ctx, call_next) -> Response`.

Factories validate their configuration once, when the app is built, and return a
named inner function. List order is execution order; the first is outermost.

Every layer's `call_next` returns a Response, never raises: the app links the chain with
the router (`app.compose`) and puts a boundary around each layer that hands an escaping
exception to the one renderer, `errors.error_response`. This package holds only the
types and the layers, one module per concern; nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from devcapsules.context import Context
from devcapsules.http import Request, Response

CallNext = Callable[[Request, Context], Awaitable[Response]]
Middleware = Callable[[Request, Context, CallNext], Awaitable[Response]]
