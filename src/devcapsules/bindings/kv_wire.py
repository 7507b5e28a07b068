"""Our KV Protocol's arguments in Cloudflare's JS shapes, and its `list` page back.

Both adapters that speak to a real KV (the edge adapter and the Miniflare client) go
through these, so the translation is written once.
"""

from __future__ import annotations

from typing import Any


def kv_type(type: str) -> str:
    """`bytes` is our alias for the platform's `arrayBuffer`; both answer bytes."""
    return "arrayBuffer" if type == "bytes" else type


def put_options(expiration_ttl: int | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if expiration_ttl is not None:
        options["expirationTtl"] = expiration_ttl
    if metadata is not None:
        options["metadata"] = metadata
    return options


def list_options(prefix: str, limit: int, cursor: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {"prefix": prefix, "limit": limit}
    if cursor is not None:
        options["cursor"] = cursor
    return options


def list_page(page: dict[str, Any]) -> dict[str, Any]:
    """Keep the Protocol's fields (drop e.g. `cacheStatus`); a cursor only when incomplete."""
    result = {"keys": page["keys"], "list_complete": page["list_complete"]}
    if not page["list_complete"]:
        result["cursor"] = page["cursor"]
    return result
