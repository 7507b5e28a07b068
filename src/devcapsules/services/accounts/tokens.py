"""Access tokens: HS256 JWTs with a pinned algorithm and the claims we rely on.

Issued and checked at `now`, the app's clock (`ctx.deps.clock`): `iat`/`exp`/`nbf` are
compared here rather than by PyJWT (which would read the wall clock), so an injected
clock moves a token's life like every other stamp. PyJWT checks the rest.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from devcapsules.errors import InvalidToken, Misconfigured
from devcapsules.settings import MIN_JWT_SECRET_LENGTH, Settings

ALGORITHM = "HS256"
ISSUER = "devcapsules"
AUDIENCE = "devcapsules-api"
ACCESS_TOKEN_TTL = timedelta(minutes=15)
CLOCK_LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "jti"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    plan: str
    token_id: str


def signing_key(settings: Settings) -> str:
    """The JWT secret, or a 500 that names the misconfiguration (never a weak key)."""
    secret = settings.auth.jwt_secret or ""
    if len(secret) >= MIN_JWT_SECRET_LENGTH:
        return secret
    if settings.is_development and secret:
        return secret
    raise Misconfigured(
        "configuration_error",
        f"JWT_SECRET is missing or shorter than {MIN_JWT_SECRET_LENGTH} characters; "
        "set it with `wrangler secret put JWT_SECRET`",
    )


def issue_access_token(
    settings: Settings, user_id: str, plan: str, now: datetime
) -> tuple[str, int]:
    claims: dict[str, Any] = {
        "sub": user_id,
        "plan": plan,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_TTL).timestamp()),
        "jti": secrets.token_hex(12),
        "typ": "access",
    }
    token = jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)
    return token, int(ACCESS_TOKEN_TTL.total_seconds())


def verify_access_token(settings: Settings, token: str, now: datetime) -> AccessClaims:
    key = signing_key(settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: "none", RS256, HS512 ... are refused
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS, **_TIMES_CHECKED_HERE},
        )
    except jwt.InvalidSignatureError:
        raise invalid_token("token_invalid", "The access token signature is invalid") from None
    except jwt.DecodeError:
        raise invalid_token("token_malformed", "The access token is malformed") from None
    except jwt.InvalidTokenError as exc:
        raise invalid_token("token_invalid", f"The access token is invalid: {exc}") from None
    _check_times(claims, now.timestamp())
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise invalid_token("token_invalid", "The token is not an access token")
    return AccessClaims(claims["sub"], str(claims.get("plan", "free")), claims["jti"])


_TIMES_CHECKED_HERE = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


def _check_times(claims: dict[str, Any], now: float) -> None:
    """PyJWT's time rules (integers; expired at `exp`; not valid before `iat`/`nbf`), with
    the same leeway, at the app's `now`."""
    expires, issued = claims["exp"], claims["iat"]
    not_before = claims.get("nbf", issued)
    if not all(_is_timestamp(value) for value in (expires, issued, not_before)):
        raise invalid_token("token_malformed", "The access token's times are malformed")
    if expires <= now - CLOCK_LEEWAY_SECONDS:
        raise invalid_token("token_expired", "The access token has expired")
    if max(issued, not_before) > now + CLOCK_LEEWAY_SECONDS:
        raise invalid_token("token_invalid", "The access token is not yet valid")


def _is_timestamp(value: Any) -> bool:
    # As PyJWT: NumericDate claims are integers (not "123", not true)
    return isinstance(value, int) and not isinstance(value, bool)


def invalid_token(code: str, message: str) -> InvalidToken:
    # Answered with its bearer challenge (`errors.InvalidToken`).
    return InvalidToken(code, message)
