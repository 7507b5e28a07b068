"""The service's API-key guard. (Its bound on concurrent and queued runs is the local
executor's own: services/execution/local.py's Capacity.)"""

from __future__ import annotations

import hashlib
import hmac

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response
from devcapsules.middleware import CallNext, Middleware

OPEN_PATHS = frozenset({"/health"})


def _digest(value: str) -> bytes:
    # Equal-length digests: the comparison leaks neither content nor the key's length.
    return hashlib.sha256(value.encode()).digest()


def service_auth_middleware(api_key: str | None) -> Middleware:
    """Bearer key check; `api_key=None` is the explicit --insecure-no-auth mode."""
    expected = _digest(api_key) if api_key else None

    async def require_service_key(request: Request, ctx: Context, call_next: CallNext) -> Response:
        if expected is not None and request.path not in OPEN_PATHS:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            valid = scheme.lower() == "bearer" and hmac.compare_digest(
                _digest(token.strip()), expected
            )
            if not valid:
                raise HTTPError(
                    401,
                    "unauthorized",
                    "Send Authorization: Bearer <AWS_EXECUTOR_API_KEY>",
                    headers={"WWW-Authenticate": 'Bearer realm="devcapsules-executor"'},
                )
        return await call_next(request, ctx)

    return require_service_key
