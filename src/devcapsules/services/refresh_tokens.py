"""Rotating refresh tokens, stored hashed in D1.

Each login starts a family. Exchanging a token marks it rotated and issues the
next one in the family. Presenting a token that was already rotated means it was
copied: the whole family is revoked, so both the thief and the user must log in
again (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.errors import Unauthenticated
from devcapsules.services.clock import iso, new_id, parse_iso, utc_now

REFRESH_TOKEN_TTL = timedelta(days=30)
TOKEN_PREFIX = "rt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _insert(db: Database, token_id: str, user_id: str, family_id: str, token: str) -> Any:
    return db.prepare(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?)"
    ).bind(token_id, user_id, family_id, hash_token(token), *_lifetime())


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue(db: Database, user_id: str, family_id: str | None = None) -> str:
    token = _new_token()
    await _insert(db, new_id("rt"), user_id, family_id or new_id("fam"), token).run()
    return token


async def rotate(db: Database, token: str) -> tuple[str, str]:
    """Exchange a refresh token: (user_id, new refresh token). Reuse revokes the family."""
    row = (
        await db.prepare(
            "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at"
            " FROM refresh_tokens WHERE token_hash = ?"
        )
        .bind(hash_token(token))
        .first()
    )
    if row is None:
        raise _invalid("refresh_token_invalid", "Unknown refresh token")
    if row["revoked_at"]:
        raise _invalid("refresh_token_revoked", "The refresh token was revoked")
    if parse_iso(row["expires_at"]) <= utc_now():
        raise _invalid("refresh_token_expired", "The refresh token has expired")
    successor, new_token = new_id("rt"), _new_token()
    # One batch: claim the old token for this successor, then insert the successor only
    # if the claim was ours and the family is still alive. A concurrent exchange of the
    # same token finds it claimed, and its family revocation covers our successor too.
    claim = db.prepare(
        "UPDATE refresh_tokens SET rotated_at = ?, replaced_by = ? WHERE id = ?"
        " AND rotated_at IS NULL AND revoked_at IS NULL"
    ).bind(iso(utc_now()), successor, row["id"])
    insert = db.prepare(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at)"
        " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?"
        " AND replaced_by = ?) AND NOT EXISTS (SELECT 1 FROM refresh_tokens"
        " WHERE family_id = ? AND revoked_at IS NOT NULL)"
    ).bind(
        successor,
        row["user_id"],
        row["family_id"],
        hash_token(new_token),
        *_lifetime(),
        row["id"],
        successor,
        row["family_id"],
    )
    results = await db.batch([claim, insert])
    if results[1]["meta"]["changes"] != 1:
        # Rotated before (or concurrently): a replayed token. Burn the whole family.
        await revoke_family(db, row["family_id"])
        raise _invalid("refresh_token_reused", "Refresh token reuse detected; please log in")
    return row["user_id"], new_token


def _lifetime() -> tuple[str, str]:
    now = utc_now()
    return iso(now), iso(now + REFRESH_TOKEN_TTL)


async def revoke_family(db: Database, family_id: str) -> None:
    await (
        db.prepare(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL"
        )
        .bind(iso(utc_now()), family_id)
        .run()
    )


async def revoke(db: Database, token: str) -> bool:
    """Logout: revoke the token's family (this session). False if the token is unknown."""
    row = (
        await db.prepare("SELECT family_id FROM refresh_tokens WHERE token_hash = ?")
        .bind(hash_token(token))
        .first()
    )
    if row is None:
        return False
    await revoke_family(db, row["family_id"])
    return True


def _invalid(code: str, message: str) -> Unauthenticated:
    return Unauthenticated(code, message)
