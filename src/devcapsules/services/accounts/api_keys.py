"""API keys for the embed widget: `dk_` + 43 random URL-safe characters.

Only a SHA-256 of the key is stored, with a short prefix for lookup and display (the
format, and what a key acts as on each request with its KV copy, is `principals`). This
module is the owner's side: create, list, revoke.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from devcapsules.context import Context
from devcapsules.errors import Conflict, NotFound
from devcapsules.services.accounts import principals, store
from devcapsules.services.clock import iso

MAX_KEYS_PER_USER = 50


def generate_key() -> str:
    return principals.KEY_PREFIX + secrets.token_urlsafe(32)


async def create(
    ctx: Context, user_id: str, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[str, dict[str, Any]]:
    """The key (shown once) and its metadata (`schemas.auth.ApiKeyOut`)."""
    if await store.count_active_keys(ctx.env.db, user_id) >= MAX_KEYS_PER_USER:
        raise Conflict("too_many_api_keys", f"At most {MAX_KEYS_PER_USER} active keys")
    key = generate_key()
    row = {
        "id": ctx.deps.ids.new("key"),
        "name": name,
        "prefix": key[: principals.LOOKUP_PREFIX_LENGTH],
        "scopes": json.dumps(sorted(set(scopes))),
        "created_at": iso(ctx.deps.clock.now()),
        "last_used_at": None,
        "expires_at": iso(expires_at) if expires_at else None,
        "revoked_at": None,
    }
    await store.insert_key(ctx.env.db, user_id, principals.hash_key(key), row)
    return key, store.key_metadata(row)


async def list_for_user(ctx: Context, user_id: str) -> list[dict[str, Any]]:
    return [store.key_metadata(row) for row in await store.keys_of(ctx.env.db, user_id)]


async def revoke(ctx: Context, user_id: str, key_id: str) -> dict[str, Any]:
    row = await store.revoke_key(ctx.env.db, user_id, key_id, ctx.deps.clock.now())
    if row is None:
        raise NotFound("not_found", "No such API key")
    await principals.forget_keys(ctx.env, [row["key_hash"]])
    return store.key_metadata(row)
