"""Accounts and sessions: registration, password login, refresh-token rotation, logout.

A session is an access token (`tokens`) plus a family of rotating refresh tokens, stored
hashed (`store`). Each login starts a family. Exchanging a token marks it rotated and
issues the next one in the family. Presenting a token that was already rotated means it
was copied: the whole family is revoked, so both the thief and the user must log in
again (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from devcapsules.context import Context
from devcapsules.errors import Unauthenticated
from devcapsules.services.accounts import store
from devcapsules.services.accounts.passwords import PasswordHasher
from devcapsules.services.accounts.store import User
from devcapsules.services.accounts.tokens import issue_access_token
from devcapsules.services.clock import parse_iso

REFRESH_TOKEN_TTL = timedelta(days=30)
REFRESH_TOKEN_PREFIX = "rt_"


def password_hasher(ctx: Context) -> PasswordHasher:
    return PasswordHasher(ctx.env.pbkdf2, ctx.settings.auth.password_iterations)


@dataclass(frozen=True)
class Session:
    """What every auth route answers with (schemas.auth.SessionResponse): tokens + user."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: User


async def create_user(
    ctx: Context, email: str, name: str, password_hash: str, plan: str = "free"
) -> User:
    """A new account (409 `email_taken` if the address has one): registration and the
    `devcapsules users create` command."""
    user_id, now = ctx.deps.ids.new("usr"), ctx.deps.clock.now()
    return await store.insert_user(ctx.env.db, user_id, email, name, password_hash, plan, now)


async def register(ctx: Context, email: str, password: str, name: str) -> User:
    # Fail on a missing JWT secret before creating an account that cannot log in.
    issue_access_token(ctx.settings, "probe", "free", ctx.deps.clock.now())
    password_hash = await password_hasher(ctx).hash(password)
    return await create_user(ctx, email, name, password_hash)


async def authenticate_password(ctx: Context, email: str, password: str) -> User:
    """The user, or one 401 whatever went wrong, in comparable time either way."""
    hasher = password_hasher(ctx)
    user = await store.user_by_email(ctx.env.db, email)
    if user is None:
        await hasher.verify_missing_user(password)
    elif await hasher.verify(password, user.password_hash):
        return user
    raise Unauthenticated("invalid_credentials", "Email or password is incorrect")


async def start_session(ctx: Context, user: User) -> Session:
    """A new session: an access token and the first refresh token of a new family."""
    token, now = _new_refresh_token(), ctx.deps.clock.now()
    token_id, family_id = ctx.deps.ids.new("rt"), ctx.deps.ids.new("fam")
    lifetime = _lifetime(now)
    await store.insert_refresh_token(
        ctx.env.db, token_id, user.id, family_id, hash_token(token), lifetime
    )
    access, expires_in = issue_access_token(ctx.settings, user.id, user.plan, now)
    return Session(access, token, expires_in, user)


async def refresh_session(ctx: Context, token: str) -> Session:
    user_id, new_refresh = await rotate(ctx, token)
    user = await store.user_by_id(ctx.env.db, user_id)
    if user is None:
        raise Unauthenticated("refresh_token_invalid", "The account no longer exists")
    access, expires_in = issue_access_token(ctx.settings, user.id, user.plan, ctx.deps.clock.now())
    return Session(access, new_refresh, expires_in, user)


async def rotate(ctx: Context, token: str) -> tuple[str, str]:
    """Exchange a refresh token: (user_id, new refresh token). Reuse revokes the family."""
    db, now = ctx.env.db, ctx.deps.clock.now()
    row = await store.refresh_token_by_hash(db, hash_token(token))
    if row is None:
        raise Unauthenticated("refresh_token_invalid", "Unknown refresh token")
    if row["revoked_at"]:
        raise Unauthenticated("refresh_token_revoked", "The refresh token was revoked")
    if parse_iso(row["expires_at"]) <= now:
        raise Unauthenticated("refresh_token_expired", "The refresh token has expired")
    successor = _new_refresh_token()
    successor_id = ctx.deps.ids.new("rt")
    if not await store.rotate_refresh_token(
        db, row, successor_id, hash_token(successor), _lifetime(now)
    ):
        # Rotated before (or concurrently): a replayed token. Burn the whole family.
        await store.revoke_family(db, row["family_id"], now)
        raise Unauthenticated("refresh_token_reused", "Refresh token reuse detected; please log in")
    return row["user_id"], successor


async def logout(ctx: Context, token: str) -> bool:
    """Revoke the token's family (this session). False if the token is unknown."""
    return await store.revoke_family_of(ctx.env.db, hash_token(token), ctx.deps.clock.now())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _lifetime(now: datetime) -> tuple[datetime, datetime]:
    return now, now + REFRESH_TOKEN_TTL
