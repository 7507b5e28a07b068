"""The accounts tables in D1 — users, api_keys, refresh_tokens: the only module with their SQL.

Like every SQL module, it takes the database and the values it writes, the time (`now`)
and new ids included; the operations that call it (sessions, api_keys, principals) take
those from the app's dependencies (`ctx.deps.clock`, `ctx.deps.ids`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.context import PLANS
from devcapsules.errors import Conflict
from devcapsules.services.clock import iso

# ------------------------------------------------------------------------------ users


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    plan: str
    created_at: str
    updated_at: str
    password_hash: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "plan": self.plan,
            "createdAt": self.created_at,
        }


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _user(row: dict[str, Any] | None) -> User | None:
    return User(**row) if row else None


async def _one(db: Database, sql: str, *args: Any) -> dict[str, Any] | None:
    """The first row of one statement (None if it has none)."""
    return await db.prepare(sql).bind(*args).first()


_USER_COLUMNS = "id, email, name, plan, created_at, updated_at, password_hash"


def check_plan(plan: str) -> None:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")


async def insert_user(
    db: Database, user_id: str, email: str, name: str, password_hash: str, plan: str, now: datetime
) -> User:
    check_plan(plan)
    stamp = iso(now)
    user = User(user_id, normalise_email(email), name, plan, stamp, stamp, password_hash)
    statement = db.prepare(
        "INSERT INTO users (id, email, name, password_hash, plan, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING"
    ).bind(user.id, user.email, user.name, password_hash, plan, stamp, stamp)
    result = await statement.run()
    if result["meta"]["changes"] == 0:
        raise Conflict("email_taken", "An account with this email already exists")
    return user


async def user_by_email(db: Database, email: str) -> User | None:
    sql = f"SELECT {_USER_COLUMNS} FROM users WHERE email = ?"
    return _user(await _one(db, sql, normalise_email(email)))


async def user_by_id(db: Database, user_id: str) -> User | None:
    return _user(await _one(db, f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", user_id))


async def set_plan(
    db: Database, email: str, plan: str, now: datetime
) -> tuple[User | None, list[str]]:
    """The updated user (None if no such email) and the hashes of its unrevoked API keys,
    whose cached principals carry the old plan (one batch). A revoked key's copy was
    dropped when it was revoked and any later one says revoked: its plan is never read."""
    check_plan(plan)
    address = normalise_email(email)
    update = db.prepare(
        f"UPDATE users SET plan = ?, updated_at = ? WHERE email = ? RETURNING {_USER_COLUMNS}"
    ).bind(plan, iso(now), address)
    hashes = db.prepare(
        "SELECT k.key_hash FROM api_keys k JOIN users u ON u.id = k.user_id"
        " WHERE u.email = ? AND k.revoked_at IS NULL"
    ).bind(address)
    updated, keys = await db.batch([update, hashes])
    rows = updated["results"]
    return _user(rows[0] if rows else None), [row["key_hash"] for row in keys["results"]]


# --------------------------------------------------------------------------- api_keys

_KEY_COLUMNS = "id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at"


def key_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """A key's row as its owner may see it (never the hash); scopes decoded. Shown as
    `schemas.auth.ApiKeyOut`, whose fields read these columns."""
    scopes = json.loads(row["scopes"]) if isinstance(row["scopes"], str) else row["scopes"]
    return {**{k: v for k, v in row.items() if k != "key_hash"}, "scopes": scopes}


async def count_active_keys(db: Database, user_id: str) -> int:
    return (
        await db.prepare(
            "SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL"
        )
        .bind(user_id)
        .first("n")
    )


async def insert_key(db: Database, user_id: str, key_hash: str, row: dict[str, Any]) -> None:
    """`row`: the key's columns as `key_metadata` shows them (scopes JSON-encoded)."""
    await (
        db.prepare(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(
            row["id"],
            user_id,
            row["name"],
            row["prefix"],
            key_hash,
            row["scopes"],
            row["created_at"],
            row["expires_at"],
        )
        .run()
    )


async def keys_of(db: Database, user_id: str) -> list[dict[str, Any]]:
    result = (
        await db.prepare(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ?"
            " ORDER BY created_at DESC, id DESC"
        )
        .bind(user_id)
        .all()
    )
    return result["results"]


async def revoke_key(
    db: Database, user_id: str, key_id: str, now: datetime
) -> dict[str, Any] | None:
    """The key's row with its `key_hash` (None if the user has no such key)."""
    sql = (
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?"
        f" RETURNING {_KEY_COLUMNS}, key_hash"
    )
    return await _one(db, sql, iso(now), key_id, user_id)


async def key_by_prefix(db: Database, prefix: str) -> dict[str, Any] | None:
    """What an API key acts as: the key's row with its owner's plan (scopes still JSON)."""
    sql = (
        "SELECT k.id, k.user_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at, u.plan"
        " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?"
    )
    return await _one(db, sql, prefix)


async def touch_key(db: Database, key_id: str, now: datetime, interval_s: int) -> None:
    """Set last_used_at unless it was set less than `interval_s` ago."""
    threshold = datetime.fromtimestamp(now.timestamp() - interval_s, now.tzinfo)
    await (
        db.prepare(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
            " AND (last_used_at IS NULL OR last_used_at < ?)"
        )
        .bind(iso(now), key_id, iso(threshold))
        .run()
    )


# --------------------------------------------------------------------- refresh_tokens


async def insert_refresh_token(
    db: Database,
    token_id: str,
    user_id: str,
    family_id: str,
    token_hash: str,
    lifetime: tuple[datetime, datetime],
) -> None:
    """A new token of `family_id`; `lifetime`: (created_at, expires_at)."""
    await (
        db.prepare(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        .bind(token_id, user_id, family_id, token_hash, *(iso(at) for at in lifetime))
        .run()
    )


async def refresh_token_by_hash(db: Database, token_hash: str) -> dict[str, Any] | None:
    sql = (
        "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at"
        " FROM refresh_tokens WHERE token_hash = ?"
    )
    return await _one(db, sql, token_hash)


async def rotate_refresh_token(
    db: Database,
    row: dict[str, Any],
    successor_id: str,
    successor_hash: str,
    lifetime: tuple[datetime, datetime],
) -> bool:
    """Replace the token `row` by its successor; False if it was rotated before (or
    concurrently) or its family is revoked: then nothing was inserted.

    One batch: claim the old token for this successor, then insert the successor only if
    the claim was ours and the family is still alive. A concurrent exchange of the same
    token finds it claimed, and its family revocation covers our successor too."""
    created, expires = iso(lifetime[0]), iso(lifetime[1])
    claim = db.prepare(
        "UPDATE refresh_tokens SET rotated_at = ?, replaced_by = ? WHERE id = ?"
        " AND rotated_at IS NULL AND revoked_at IS NULL"
    ).bind(created, successor_id, row["id"])
    insert = db.prepare(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at)"
        " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?"
        " AND replaced_by = ?) AND NOT EXISTS (SELECT 1 FROM refresh_tokens"
        " WHERE family_id = ? AND revoked_at IS NOT NULL)"
    ).bind(
        successor_id,
        row["user_id"],
        row["family_id"],
        successor_hash,
        created,
        expires,
        row["id"],
        successor_id,
        row["family_id"],
    )
    results = await db.batch([claim, insert])
    return results[1]["meta"]["changes"] == 1


async def revoke_family(db: Database, family_id: str, now: datetime) -> None:
    await (
        db.prepare(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL"
        )
        .bind(iso(now), family_id)
        .run()
    )


async def revoke_family_of(db: Database, token_hash: str, now: datetime) -> bool:
    """Revoke the family of the token with this hash; False if there is no such token."""
    row = await _one(db, "SELECT family_id FROM refresh_tokens WHERE token_hash = ?", token_hash)
    if row is None:
        return False
    await revoke_family(db, row["family_id"], now)
    return True
