"""The one place errors become JSON: `{"success": false, "error": {...}, "requestId"}`.

Unknown exceptions are logged with the request id and answered with a generic 500
that leaks nothing (no message, no traceback). A binding outage (D1, KV, the queue) is
a 503 naming the dependency (`devcapsules.dependencies`). Every 503 carries
`Retry-After`: it is the status that tells a client "not your fault, try again".
"""

from __future__ import annotations

import traceback
from typing import Any

from devcapsules import dependencies
from devcapsules.bindings.protocols import BindingError
from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response, json_response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.settings import SettingsError


def error_body(code: str, message: str, details: Any, request_id: str) -> dict[str, Any]:
    error = {"code": code, "message": message, "details": details}
    return {"success": False, "error": error, "requestId": request_id}


def render_http_error(exc: HTTPError, ctx: Context) -> Response:
    body = error_body(exc.code, exc.message, exc.details, ctx.request_id)
    response = json_response(body, status=exc.status, headers=exc.headers)
    if exc.status == 503 and "retry-after" not in response.headers:
        response.headers.set("Retry-After", str(dependencies.RETRY_AFTER_S))
    return response


def errors_middleware() -> Middleware:
    async def handle_errors(request: Request, ctx: Context, call_next: CallNext) -> Response:
        try:
            return await call_next(request, ctx)
        except HTTPError as exc:
            if exc.status >= 500:
                ctx.logger.error("http_error", code=exc.code, message=exc.message)
            return render_http_error(exc, ctx)
        except BindingError as exc:
            outage = dependencies.unavailable(exc)
            if outage is None:
                return _internal_error(exc, ctx)
            ctx.logger.error("dependency_unavailable", code=outage.code, error=str(exc)[:500])
            return render_http_error(outage, ctx)
        except SettingsError as exc:
            # A var read lazily by a feature (e.g. ANALYTICS_*) is invalid: the operator
            # must learn which one, as when the app's own settings are built.
            ctx.logger.error("configuration_error", message=str(exc))
            error = HTTPError(500, "configuration_error", f"Worker misconfigured: {exc}")
            return render_http_error(error, ctx)
        except Exception as exc:
            return _internal_error(exc, ctx)

    return handle_errors


def _internal_error(exc: Exception, ctx: Context) -> Response:
    ctx.logger.error(
        "unhandled_exception",
        exception=type(exc).__name__,
        message=str(exc),
        traceback=traceback.format_exc(limit=20),
    )
    internal = HTTPError(500, "internal_error", "An unexpected error occurred")
    return render_http_error(internal, ctx)
