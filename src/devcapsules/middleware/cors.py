"""CORS: allowed origins from the `ALLOWED_ORIGINS` var; two layers of one concern.

- `cors_middleware` decorates every answer (error or not) for an allowed origin;
- `preflight_middleware`, just inside it, answers preflights (before the body limit and
  the rate limiter: a preflight is neither read nor counted).


Credentials are bearer tokens, never cookies, so `Allow-Credentials` is not sent and
`*` is safe to honour. Error responses are decorated too: a browser must be able to
read a 401 or a 429 to act on it. Errors from further in reach the decorating layer as
Responses (`app.compose`); a refused preflight is raised like any error, rendered
at the preflight layer's boundary and decorated like every other answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response, empty_response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.middleware.rate_limit import RATE_LIMIT_HEADERS

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "x-request-id",
    "x-session-id",
)
EXPOSED_HEADERS = (
    "X-Request-Id",
    "X-Analytics-Cache",
    "Idempotent-Replayed",
    "ETag",
    "Location",
    "Retry-After",
    *RATE_LIMIT_HEADERS,
)
PREFLIGHT_MAX_AGE = 600


class Origins:
    """The allowed origins, normalised once."""

    def __init__(self, allowed_origins: Sequence[str]):
        self.allow_all = "*" in allowed_origins
        self.listed = frozenset(o.rstrip("/") for o in allowed_origins)

    def allows(self, origin: str) -> bool:
        return self.allow_all or origin in self.listed


def preflight_middleware(allowed_origins: Sequence[str]) -> Middleware:
    allowed = Origins(allowed_origins)

    async def preflight(request: Request, ctx: Context, call_next: CallNext) -> Response:
        origin = request.headers.get("origin")
        if (
            request.method == "OPTIONS"
            and origin
            and "access-control-request-method" in request.headers
        ):
            return _preflight(request, origin, allowed.allows(origin), allowed.allow_all)
        return await call_next(request, ctx)

    return preflight


def cors_middleware(allowed_origins: Sequence[str]) -> Middleware:
    allowed = Origins(allowed_origins)
    allow_all, origins = allowed.allow_all, allowed.listed

    async def cors(request: Request, ctx: Context, call_next: CallNext) -> Response:
        origin = request.headers.get("origin")
        response = await call_next(request, ctx)
        if origin and allowed.allows(origin):
            _decorate(response, origin, allow_all)
        elif origins and not allow_all:
            # The answer depends on Origin even when it carries no CORS headers: a shared
            # cache must not hand this response to an allowed origin.
            _vary_origin(response)
        return response

    return cors


def _preflight(request: Request, origin: str, allowed: bool, allow_all: bool) -> Response:
    if not allowed:
        raise HTTPError(403, "cors_origin_denied", f"Origin {origin} is not allowed")
    method = request.headers["access-control-request-method"].upper()
    if method not in ALLOWED_METHODS:
        raise HTTPError(403, "cors_method_denied", f"Method {method} is not allowed by CORS")
    requested = request.headers.get("access-control-request-headers", "")
    wanted = [h.strip().lower() for h in requested.split(",") if h.strip()]
    refused = [h for h in wanted if h not in ALLOWED_HEADERS]
    if refused:
        raise HTTPError(403, "cors_headers_denied", f"Headers not allowed: {', '.join(refused)}")
    response = empty_response(204)
    response.headers.set("Access-Control-Allow-Methods", ", ".join(ALLOWED_METHODS))
    response.headers.set("Access-Control-Allow-Headers", ", ".join(ALLOWED_HEADERS))
    response.headers.set("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE))
    _set_origin(response, origin, allow_all)
    return response


def _decorate(response: Response, origin: str, allow_all: bool) -> None:
    _set_origin(response, origin, allow_all)
    response.headers.set("Access-Control-Expose-Headers", ", ".join(EXPOSED_HEADERS))


def _set_origin(response: Response, origin: str, allow_all: bool) -> None:
    response.headers.set("Access-Control-Allow-Origin", "*" if allow_all else origin)
    if not allow_all:
        _vary_origin(response)


def _vary_origin(response: Response) -> None:
    """Caches must key on Origin; keep any Vary the handler set (e.g. Authorization)."""
    vary = response.headers.get("vary")  # every Vary header, joined with ", "
    if vary is None or "Origin" not in [v.strip() for v in vary.split(",")]:
        response.headers.add("Vary", "Origin")
