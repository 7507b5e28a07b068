"""Request ids: honour a safe inbound `X-Request-Id`, else mint one; echo it back."""

from __future__ import annotations

import re
import secrets

from devcapsules.context import Context
from devcapsules.http import Request, Response
from devcapsules.middleware import CallNext, Middleware

HEADER = "X-Request-Id"
# Inbound ids end up in logs: accept only short, plain tokens (no spaces, quotes, newlines).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_id_middleware() -> Middleware:
    async def request_id(request: Request, ctx: Context, call_next: CallNext) -> Response:
        inbound = request.headers.get(HEADER, "")
        ctx.request_id = inbound if _SAFE_ID.match(inbound) else new_request_id()
        ctx.logger = ctx.logger.bind(requestId=ctx.request_id)
        response = await call_next(request, ctx)
        response.headers.set(HEADER, ctx.request_id)
        return response

    return request_id
