"""Who is calling: a bearer credential becomes the `Principal`, with the plan as D1 has it.

Two credentials: an API key (`dk_…`, looked up by its prefix and checked by its hash)
and an access token (a JWT, `tokens`). Either way the plan is the account's plan now,
not as it was when the key was cached or the token issued: rate limits and quotas follow
it, and an access token lives for its whole TTL.

Both lookups go through a KV copy of the accounts rows (TTL 60 s, KV's minimum): one KV
read per request when cached, one D1 read when not. `apikey:<hash>` holds what a key
acts as, `plan:<user>` a user's plan. Revoking a key or changing a plan drops the copies
at once where it happened; other edge locations may serve theirs until it expires, so a
revoked key stops working everywhere within 60 seconds, and immediately where it was
revoked. A copy KV cannot read or write is a miss (`kv_cache`), never a failed request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import BindingError
from devcapsules.context import PLANS, Context, Principal
from devcapsules.services.accounts import store
from devcapsules.services.accounts.tokens import invalid_token, verify_access_token
from devcapsules.services.clock import parse_iso
from devcapsules.services.kv_cache import keep_copy, read_json

KEY_PREFIX = "dk_"
LOOKUP_PREFIX_LENGTH = 12  # "dk_" + 9 characters
CACHE_TTL_SECONDS = 60
LAST_USED_INTERVAL_SECONDS = 60


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def plan_cache_key(user_id: str) -> str:
    return f"plan:{user_id}"


async def resolve(ctx: Context, token: str) -> Principal:
    """The principal a bearer token acts as, or a 401 saying precisely why not."""
    if token.startswith(KEY_PREFIX):
        return await _key_principal(ctx, token)
    claims = verify_access_token(ctx.settings, token, ctx.deps.clock.now())
    plan = await current_plan(ctx, claims.user_id, claims.plan)
    return Principal(user_id=claims.user_id, plan=plan, token_id=claims.token_id)


async def _key_principal(ctx: Context, key: str) -> Principal:
    cache_key = key_cache_key(hash_key(key))
    record = await read_json(ctx.env.kv, cache_key, ctx.logger)
    if record is None:
        record = await _key_record(ctx.env, key)
        if record is None:
            raise invalid_token("api_key_unknown", "Unknown API key")
        keep_copy(ctx, cache_key, record, CACHE_TTL_SECONDS)
    if record["revoked_at"]:
        raise invalid_token("api_key_revoked", "The API key was revoked")
    if record["expires_at"] and parse_iso(record["expires_at"]) <= ctx.deps.clock.now():
        raise invalid_token("api_key_expired", "The API key has expired")
    _touch_last_used(ctx, record["id"])
    return Principal(
        user_id=record["user_id"],
        plan=record["plan"],
        kind="api_key",
        scopes=frozenset(record["scopes"]),
        api_key_id=record["id"],
    )


async def _key_record(env: Env, key: str) -> dict[str, Any] | None:
    row = await store.key_by_prefix(env.db, key[:LOOKUP_PREFIX_LENGTH])
    if row is None or not hmac.compare_digest(row.pop("key_hash"), hash_key(key)):
        return None
    row["scopes"] = json.loads(row["scopes"])
    return row


async def current_plan(ctx: Context, user_id: str, claimed: str) -> str:
    """The user's plan now; the token's claim only if D1 cannot say (fail open, as the
    rate limiter does: a counter hiccup must not become an outage)."""
    cached = await read_json(ctx.env.kv, plan_cache_key(user_id), ctx.logger)
    if isinstance(cached, dict) and cached.get("plan") in PLANS:
        return cached["plan"]
    try:
        user = await store.user_by_id(ctx.env.db, user_id)
    except BindingError as exc:
        ctx.logger.error("plan_lookup_failed", error=str(exc)[:300])
        return claimed
    if user is None:  # gone since the token was issued: the routes answer for that
        return claimed
    keep_copy(ctx, plan_cache_key(user_id), {"plan": user.plan}, CACHE_TTL_SECONDS)
    return user.plan


async def change_plan(ctx: Context, email: str, plan: str) -> store.User | None:
    """Set the plan (`devcapsules users set-plan`) and forget every cached copy of it."""
    user, key_hashes = await store.set_plan(ctx.env.db, email, plan, ctx.deps.clock.now())
    if user is not None:
        await _forget(ctx.env, [plan_cache_key(user.id), *map(key_cache_key, key_hashes)])
    return user


async def forget_keys(env: Env, key_hashes: list[str]) -> None:
    """Drop the cached principals of these keys (revoked, or their owner's plan changed)."""
    await _forget(env, [key_cache_key(key_hash) for key_hash in key_hashes])


async def _forget(env: Env, cache_keys: list[str]) -> None:
    # All at once: each delete is a KV round trip, and a plan change drops up to one per
    # active key (50) plus the plan's. Every delete is attempted even if one fails; the
    # first failure is raised after them all (the caller must not report success).
    if env.kv is None or not cache_keys:
        return
    outcomes = await asyncio.gather(
        *(env.kv.delete(key) for key in cache_keys), return_exceptions=True
    )
    failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failure is not None:
        raise failure


# Per isolate: when each key's last_used_at was last written, oldest first. With the
# conditional UPDATE in `store.touch_key` this keeps it to one D1 write per key per
# minute, off the hot path. Bounded: entries older than the interval suppress nothing
# and are dropped, and past LAST_USED_TRACKED keys the oldest go too (at worst an extra
# conditional UPDATE that D1 turns into a no-op), so an isolate that sees many keys does
# not grow without end.
LAST_USED_TRACKED = 4096
_last_used_writes: dict[str, float] = {}


def _touch_last_used(ctx: Context, key_id: str) -> None:
    now = ctx.deps.clock.monotonic()
    if now - _last_used_writes.get(key_id, -1e9) < LAST_USED_INTERVAL_SECONDS:
        return
    _last_used_writes.pop(key_id, None)  # re-inserted last: the dict stays oldest first
    _last_used_writes[key_id] = now
    _forget_stale_writes(now)
    write = store.touch_key(ctx.env.db, key_id, ctx.deps.clock.now(), LAST_USED_INTERVAL_SECONDS)
    ctx.wait_until(write)


def _forget_stale_writes(now: float) -> None:
    """Drop from the oldest end: what expired, and what is past the bound."""
    while _last_used_writes:
        key_id, written = next(iter(_last_used_writes.items()))
        fresh = now - written < LAST_USED_INTERVAL_SECONDS
        if fresh and len(_last_used_writes) <= LAST_USED_TRACKED:
            return
        del _last_used_writes[key_id]
