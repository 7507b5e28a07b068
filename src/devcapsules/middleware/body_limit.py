"""Refuse oversized request bodies with 413, and bodies the host stopped waiting for
(a client too slow to send what it announced) with 408, before anything parses them."""

from __future__ import annotations

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response
from devcapsules.middleware import CallNext, Middleware


def body_limit_middleware(max_bytes: int) -> Middleware:
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")

    async def limit_body(request: Request, ctx: Context, call_next: CallNext) -> Response:
        if not request.body_complete:
            raise HTTPError(
                408, "request_timeout", "The request body did not arrive in time; send it again"
            )
        declared = request.headers.get("content-length", "")
        declared_size = int(declared) if declared.isdigit() else 0
        if max(len(request.body), declared_size) > max_bytes:
            raise HTTPError(
                413,
                "payload_too_large",
                f"Request body exceeds the limit of {max_bytes} bytes",
                details={"limitBytes": max_bytes},
            )
        return await call_next(request, ctx)

    return limit_body
