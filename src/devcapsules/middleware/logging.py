"""One structured access-log line per request, with status and duration."""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.http import Request, Response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.services import clock


def logging_middleware() -> Middleware:
    async def access_log(request: Request, ctx: Context, call_next: CallNext) -> Response:
        started = clock.monotonic()
        response = await call_next(request, ctx)
        duration_ms = clock.elapsed_ms(started)
        level = "error" if response.status >= 500 else "info"
        ctx.logger.log(
            level,
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            durationMs=duration_ms,
            principal=getattr(ctx.principal, "log_id", None),
        )
        return response

    return access_log
