"""Registration, login and sessions: passwords, access tokens, refresh tokens together."""

from __future__ import annotations

from dataclasses import dataclass

from devcapsules.context import Context
from devcapsules.errors import Unauthenticated
from devcapsules.services import refresh_tokens, users
from devcapsules.services.passwords import PasswordHasher
from devcapsules.services.tokens import issue_access_token
from devcapsules.services.users import User


def password_hasher(ctx: Context) -> PasswordHasher:
    return PasswordHasher(ctx.env.pbkdf2, ctx.settings.auth.password_iterations)


@dataclass(frozen=True)
class Session:
    """What every auth route answers with (schemas.auth.SessionResponse): tokens + user."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: User


async def start_session(ctx: Context, user: User, family_id: str | None = None) -> Session:
    access, expires_in = issue_access_token(ctx.settings, user.id, user.plan)
    refresh = await refresh_tokens.issue(ctx.env.db, user.id, family_id)
    return Session(access, refresh, expires_in, user)


async def register(ctx: Context, email: str, password: str, name: str) -> User:
    # Fail on a missing JWT secret before creating an account that cannot log in.
    issue_access_token(ctx.settings, "probe", "free")
    password_hash = await password_hasher(ctx).hash(password)
    return await users.create_user(ctx.env.db, email, name, password_hash)


async def authenticate_password(ctx: Context, email: str, password: str) -> User:
    """The user, or one 401 whatever went wrong, in comparable time either way."""
    hasher = password_hasher(ctx)
    user = await users.find_by_email(ctx.env.db, email)
    if user is None:
        await hasher.verify_missing_user(password)
    elif await hasher.verify(password, user.password_hash):
        return user
    raise Unauthenticated("invalid_credentials", "Email or password is incorrect")


async def refresh_session(ctx: Context, token: str) -> Session:
    user_id, new_refresh = await refresh_tokens.rotate(ctx.env.db, token)
    user = await users.find_by_id(ctx.env.db, user_id)
    if user is None:
        raise Unauthenticated("refresh_token_invalid", "The account no longer exists")
    access, expires_in = issue_access_token(ctx.settings, user.id, user.plan)
    return Session(access, new_refresh, expires_in, user)
