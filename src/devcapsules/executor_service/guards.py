"""The service's two guards: its API key, and a bound on concurrent and queued runs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator

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


class Capacity:
    """At most `concurrency` runs at once and `queue_depth` waiting; the rest are refused
    at once (503 + Retry-After) rather than piling up behind a slow sandbox."""

    def __init__(self, concurrency: int, queue_depth: int, retry_after_s: int = 1):
        if concurrency < 1 or queue_depth < 0:
            raise ValueError("concurrency must be >= 1 and queue depth >= 0")
        self.concurrency, self.queue_depth = concurrency, queue_depth
        self.retry_after_s = retry_after_s
        self.admitted = 0  # running + waiting; one event loop, so no lock is needed
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def running(self) -> int:
        return min(self.admitted, self.concurrency)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.admitted >= self.concurrency + self.queue_depth:
            raise HTTPError(
                503,
                "executor_busy",
                "The executor is at capacity; retry shortly",
                details={"concurrency": self.concurrency, "queueDepth": self.queue_depth},
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.admitted += 1
        try:
            async with self._slots:
                yield
        finally:
            self.admitted -= 1
