"""API keys for the embed widget: `dk_` + 43 random URL-safe characters.

Only a SHA-256 of the key is stored, with a short prefix for lookup and display.
Resolving a key costs one KV read when cached (TTL 60 s) and one D1 read when not.
Revocation deletes the cache entry at once; other locations may serve the cached
principal until their copy expires, so a revoked key stops working everywhere
within 60 seconds (KV's minimum TTL), and immediately where it was revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.context import Context
from devcapsules.errors import Conflict, NotFound
from devcapsules.principal import Principal
from devcapsules.services.clock import iso, new_id, parse_iso, utc_now
from devcapsules.services.kv_cache import read_json
from devcapsules.services.tokens import invalid_token

KEY_PREFIX = "dk_"
LOOKUP_PREFIX_LENGTH = 12  # "dk_" + 9 characters
CACHE_TTL_SECONDS = 60
LAST_USED_INTERVAL_SECONDS = 60
MAX_KEYS_PER_USER = 50


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def cache_key(key: str) -> str:
    return hash_cache_key(hash_key(key))


def hash_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def metadata(row: dict[str, Any]) -> dict[str, Any]:
    """A key's row as its owner may see it (never the hash); scopes decoded. Shown as
    `schemas.auth.ApiKeyOut`, whose fields read these columns."""
    scopes = json.loads(row["scopes"]) if isinstance(row["scopes"], str) else row["scopes"]
    return {**{k: v for k, v in row.items() if k != "key_hash"}, "scopes": scopes}


async def create(
    env: Env, user_id: str, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[str, dict[str, Any]]:
    count = (
        await env.db.prepare(
            "SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL"
        )
        .bind(user_id)
        .first("n")
    )
    if count >= MAX_KEYS_PER_USER:
        raise Conflict("too_many_api_keys", f"At most {MAX_KEYS_PER_USER} active keys")
    key = generate_key()
    row = {
        "id": new_id("key"),
        "name": name,
        "prefix": key[:LOOKUP_PREFIX_LENGTH],
        "scopes": json.dumps(sorted(set(scopes))),
        "created_at": iso(utc_now()),
        "last_used_at": None,
        "expires_at": iso(expires_at) if expires_at else None,
        "revoked_at": None,
    }
    await (
        env.db.prepare(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(
            row["id"],
            user_id,
            name,
            row["prefix"],
            hash_key(key),
            row["scopes"],
            row["created_at"],
            row["expires_at"],
        )
        .run()
    )
    return key, metadata(row)


async def list_for_user(env: Env, user_id: str) -> list[dict[str, Any]]:
    result = (
        await env.db.prepare(
            "SELECT id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at"
            " FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id DESC"
        )
        .bind(user_id)
        .all()
    )
    return [metadata(row) for row in result["results"]]


async def revoke(env: Env, user_id: str, key_id: str) -> dict[str, Any]:
    row = (
        await env.db.prepare(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?"
            " RETURNING id, name, prefix, key_hash, scopes, created_at, last_used_at, expires_at,"
            " revoked_at"
        )
        .bind(iso(utc_now()), key_id, user_id)
        .first()
    )
    if row is None:
        raise NotFound("not_found", "No such API key")
    if env.kv is not None:
        await env.kv.delete(hash_cache_key(row["key_hash"]))
    return metadata(row)


async def resolve(ctx: Context, key: str) -> Principal:
    """The principal an API key acts as, or a 401 saying precisely why not."""
    record = await read_json(ctx.env.kv, cache_key(key), ctx.logger)
    if record is None:
        record = await _load_record(ctx.env, key)
        if record is None:
            raise invalid_token("api_key_unknown", "Unknown API key")
        if ctx.env.kv is not None:
            ctx.wait_until(_cache(ctx.env, key, record))
    if record["revoked_at"]:
        raise invalid_token("api_key_revoked", "The API key was revoked")
    if record["expires_at"] and parse_iso(record["expires_at"]) <= utc_now():
        raise invalid_token("api_key_expired", "The API key has expired")
    _touch_last_used(ctx, record["id"])
    return Principal(
        user_id=record["user_id"],
        plan=record["plan"],
        kind="api_key",
        scopes=frozenset(record["scopes"]),
        api_key_id=record["id"],
    )


async def _load_record(env: Env, key: str) -> dict[str, Any] | None:
    row = (
        await env.db.prepare(
            "SELECT k.id, k.user_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at, u.plan"
            " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?"
        )
        .bind(key[:LOOKUP_PREFIX_LENGTH])
        .first()
    )
    if row is None or not hmac.compare_digest(row.pop("key_hash"), hash_key(key)):
        return None
    row["scopes"] = json.loads(row["scopes"])
    return row


async def _cache(env: Env, key: str, record: dict[str, Any]) -> None:
    await env.kv.put(cache_key(key), json.dumps(record), expiration_ttl=CACHE_TTL_SECONDS)


# Per isolate: when each key's last_used_at was last written. With the conditional
# UPDATE below this keeps it to one D1 write per key per minute, off the hot path.
_last_used_writes: dict[str, float] = {}


def _touch_last_used(ctx: Context, key_id: str) -> None:
    now = time.monotonic()
    if now - _last_used_writes.get(key_id, -1e9) < LAST_USED_INTERVAL_SECONDS:
        return
    _last_used_writes[key_id] = now
    ctx.wait_until(_write_last_used(ctx.env, key_id))


async def _write_last_used(env: Env, key_id: str) -> None:
    now = utc_now()
    threshold = iso(
        datetime.fromtimestamp(now.timestamp() - LAST_USED_INTERVAL_SECONDS, now.tzinfo)
    )
    await (
        env.db.prepare(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
            " AND (last_used_at IS NULL OR last_used_at < ?)"
        )
        .bind(iso(now), key_id, threshold)
        .run()
    )
