"""The caller's plan as D1 has it now, not as their access token said it was at login.

Rate limits and quotas follow the plan, and an access token lives for its whole TTL:
reading the token's `plan` claim would keep a downgraded user on the old limits until
it expired. So the plan is read through a KV copy (TTL 60 s, KV's minimum), the same
cache API-key principals use: one KV read per request when cached, one D1 read when not.

`change_plan` drops the user's cached copies (theirs and their API keys'), so a change
applies at once where it was made; other edge locations follow within 60 s.
"""

from __future__ import annotations

import json

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import BindingError
from devcapsules.context import Context
from devcapsules.principal import PLANS
from devcapsules.services import api_keys, users
from devcapsules.services.kv_cache import read_json

CACHE_TTL_SECONDS = 60


def cache_key(user_id: str) -> str:
    return f"plan:{user_id}"


async def current_plan(ctx: Context, user_id: str, claimed: str) -> str:
    """The user's plan now; the token's claim only if D1 cannot say (fail open, as the
    rate limiter does: a counter hiccup must not become an outage)."""
    cached = await read_json(ctx.env.kv, cache_key(user_id), ctx.logger)
    if isinstance(cached, dict) and cached.get("plan") in PLANS:
        return cached["plan"]
    try:
        user = await users.find_by_id(ctx.env.db, user_id)
    except BindingError as exc:
        ctx.logger.error("plan_lookup_failed", error=str(exc)[:300])
        return claimed
    if user is None:  # gone since the token was issued: the routes answer for that
        return claimed
    if ctx.env.kv is not None:
        ctx.wait_until(_cache(ctx.env, user_id, user.plan))
    return user.plan


async def _cache(env: Env, user_id: str, plan: str) -> None:
    value = json.dumps({"plan": plan})
    await env.kv.put(cache_key(user_id), value, expiration_ttl=CACHE_TTL_SECONDS)


async def change_plan(env: Env, email: str, plan: str) -> users.User | None:
    """Set the plan (`devcapsules users set-plan`) and forget every cached copy of it."""
    user = await users.set_plan(env.db, email, plan)
    if user is not None and env.kv is not None:
        hashes = await (
            env.db.prepare("SELECT key_hash FROM api_keys WHERE user_id = ?").bind(user.id).all()
        )
        await env.kv.delete(cache_key(user.id))
        for row in hashes["results"]:
            await env.kv.delete(api_keys.hash_cache_key(row["key_hash"]))
    return user
