"""Reading a KV cache: a miss, not a failure, when KV cannot answer.

KV only ever holds copies of what D1 knows (resolved API keys, analytics aggregates),
so a KV outage or a corrupt entry must cost a recomputation, never the request.
"""

from __future__ import annotations

from typing import Any

from devcapsules.bindings.protocols import BindingError, KVNamespace
from devcapsules.logs import Logger


async def read_json(kv: KVNamespace | None, key: str, logger: Logger) -> Any:
    if kv is None:
        return None
    try:
        return await kv.get(key, type="json")
    except (BindingError, ValueError) as exc:
        logger.warn("kv_cache_read_failed", key=key.split(":", 1)[0], error=str(exc)[:200])
        return None
