"""The request's identity in the logs: its id and its one access-log line.

One layer, because both are the same observability concern: the id (a safe inbound
`X-Request-Id`, else a fresh one) is bound to the request's logger, echoed back, and
the access line (status, duration, principal) closes the request under that id.
"""

from __future__ import annotations

import os
import re

from devcapsules import logs
from devcapsules.context import Context
from devcapsules.http import Request, Response
from devcapsules.middleware import CallNext, Middleware
from devcapsules.services import clock

HEADER = "X-Request-Id"
# Inbound ids end up in logs: accept only short, plain tokens (no spaces, quotes, newlines).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


_ID_BYTES = 12
_IDS_PER_READ = 256
_ids: list[str] = []


def new_request_id() -> str:
    """`req_` + 24 hex digits of the OS's random source (as `secrets.token_hex(12)`),
    read for 256 ids at a time: one `getrandom` call per request was a syscall on the
    path of every answer. `list.pop` is atomic under the GIL, so threads never share an
    id; a forked child drops the parent's unused ids (`_forget_ids`)."""
    try:
        return _ids.pop()
    except IndexError:
        pool = os.urandom(_ID_BYTES * _IDS_PER_READ).hex()
        width = 2 * _ID_BYTES
        _ids.extend("req_" + pool[i : i + width] for i in range(0, len(pool), width))
        return _ids.pop()


def _forget_ids() -> None:
    _ids.clear()


if hasattr(os, "register_at_fork"):  # not on every platform (Pyodide has no fork)
    os.register_at_fork(after_in_child=_forget_ids)


def request_log_middleware() -> Middleware:
    async def request_log(request: Request, ctx: Context, call_next: CallNext) -> Response:
        inbound = request.headers.get(HEADER)
        ctx.request_id = inbound if inbound and _SAFE_ID.match(inbound) else new_request_id()
        ctx.logger = ctx.logger.bind(requestId=ctx.request_id)
        started = clock.monotonic()
        scope = logs.enter_request_scope({"requestId": ctx.request_id})  # app-wide loggers
        try:
            response = await call_next(request, ctx)
        finally:
            logs.leave_request_scope(scope)
        response.headers.set(HEADER, ctx.request_id)
        ctx.logger.log(
            "error" if response.status >= 500 else "info",
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            durationMs=clock.elapsed_ms(started),
            principal=getattr(ctx.principal, "log_id", None),
        )
        return response

    return request_log
