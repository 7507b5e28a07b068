"""KV copies of D1: read as a miss, not a failure, when KV cannot answer; written off the
response path, where a failed write costs a recomputation later, never the request.

KV only ever holds copies of what D1 knows (what an API key acts as, a user's plan, the
analytics aggregates), so a KV outage or a corrupt entry must cost a D1 read, never the
request. Every copy is read with `read_json` and written with `keep_copy`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devcapsules.bindings.protocols import BindingError, KVNamespace
from devcapsules.logs import Logger

if TYPE_CHECKING:
    from devcapsules.context import Context


async def read_json(kv: KVNamespace | None, key: str, logger: Logger) -> Any:
    if kv is None:
        return None
    try:
        return await kv.get(key, type="json")
    except (BindingError, ValueError) as exc:
        logger.warn("kv_cache_read_failed", key=_kind(key), error=str(exc)[:200])
        return None


def keep_copy(ctx: Context, key: str, value: Any, ttl: int) -> None:
    """Store `value` as JSON for `ttl` seconds, after the response (`wait_until`)."""
    if ctx.env.kv is not None:
        ctx.wait_until(_put(ctx, key, value, ttl))


async def _put(ctx: Context, key: str, value: Any, ttl: int) -> None:
    try:
        await ctx.env.kv.put(key, json.dumps(value, default=str), expiration_ttl=ttl)
    except Exception as exc:  # background work: log it, never surface it
        ctx.logger.warn("kv_cache_write_failed", key=_kind(key), error=str(exc)[:200])


def _kind(key: str) -> str:
    # `apikey:<hash>` -> `apikey`: the log names the copy, never the credential's hash.
    return key.split(":", 1)[0]
