"""KV cache of computed aggregates (reports, overviews), never of counters.

Staleness, documented: a cached aggregate is served until its TTL expires
(`ANALYTICS_CACHE_TTL`, default and minimum 60 s); new events are not pushed
into it. Keys carry the capsule or user and the exact range (and a version, so a
change of shape never reads an old value), so ranges never share an entry. KV
is eventually consistent across locations, which can only add to the same bound
for a location that read the value before it expired elsewhere. Each value
records `generatedAt`, so clients can see how old an answer is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.context import Context
from devcapsules.services.kv_cache import read_json

VERSION = "v1"


def report_key(capsule_id: str, start: str, end: str) -> str:
    return f"analytics:{VERSION}:capsule:{capsule_id}:{start}:{end}"


def overview_key(user_id: str, start: str, end: str, limit: int) -> str:
    return f"analytics:{VERSION}:overview:{user_id}:{start}:{end}:{limit}"


async def cached(
    ctx: Context, key: str, ttl: int, compute: Callable[[], Awaitable[dict[str, Any]]]
) -> tuple[dict[str, Any], bool]:
    """The cached value and True, or a freshly computed one (stored afterwards) and False."""
    kv = ctx.env.kv
    hit = await read_json(kv, key, ctx.logger)
    if hit is not None:
        return hit, True
    value = await compute()
    if kv is not None:
        # Off the response path: the caller does not wait for the write.
        ctx.wait_until(_store(ctx, key, value, ttl))
    return value, False


async def _store(ctx: Context, key: str, value: dict[str, Any], ttl: int) -> None:
    # A cache write that fails costs a recomputation later, never the request.
    try:
        await ctx.env.kv.put(key, json.dumps(value, default=str), expiration_ttl=ttl)
    except Exception as exc:
        ctx.logger.warn("analytics_cache_write_failed", key=key, message=str(exc))
