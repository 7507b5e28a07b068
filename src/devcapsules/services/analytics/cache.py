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

from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.context import Context
from devcapsules.services.kv_cache import keep_copy, read_json

VERSION = "v1"


def report_key(capsule_id: str, start: str, end: str) -> str:
    return f"analytics:{VERSION}:capsule:{capsule_id}:{start}:{end}"


def overview_key(user_id: str, start: str, end: str, limit: int) -> str:
    return f"analytics:{VERSION}:overview:{user_id}:{start}:{end}:{limit}"


async def cached(
    ctx: Context, key: str, ttl: int, compute: Callable[[], Awaitable[dict[str, Any]]]
) -> tuple[dict[str, Any], bool]:
    """The cached value and True, or a freshly computed one (stored afterwards) and False."""
    hit = await read_json(ctx.env.kv, key, ctx.logger)
    if hit is not None:
        return hit, True
    value = await compute()
    keep_copy(ctx, key, value, ttl)  # off the response path: the caller does not wait
    return value, False
