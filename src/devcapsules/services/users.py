"""Users in D1: the only module with user SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.errors import Conflict
from devcapsules.principal import PLANS
from devcapsules.services.clock import iso, new_id, utc_now


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


_COLUMNS = "id, email, name, plan, created_at, updated_at, password_hash"


async def create_user(
    db: Database, email: str, name: str, password_hash: str, plan: str = "free"
) -> User:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}")
    now = iso(utc_now())
    user = User(new_id("usr"), normalise_email(email), name, plan, now, now, password_hash)
    statement = db.prepare(
        "INSERT INTO users (id, email, name, password_hash, plan, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING"
    ).bind(user.id, user.email, user.name, password_hash, plan, now, now)
    result = await statement.run()
    if result["meta"]["changes"] == 0:
        raise Conflict("email_taken", "An account with this email already exists")
    return user


async def find_by_email(db: Database, email: str) -> User | None:
    row = (
        await db.prepare(f"SELECT {_COLUMNS} FROM users WHERE email = ?")
        .bind(normalise_email(email))
        .first()
    )
    return _user(row)


async def find_by_id(db: Database, user_id: str) -> User | None:
    row = await db.prepare(f"SELECT {_COLUMNS} FROM users WHERE id = ?").bind(user_id).first()
    return _user(row)


async def set_plan(db: Database, email: str, plan: str) -> User | None:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
    row = (
        await db.prepare(
            f"UPDATE users SET plan = ?, updated_at = ? WHERE email = ? RETURNING {_COLUMNS}"
        )
        .bind(plan, iso(utc_now()), normalise_email(email))
        .first()
    )
    return _user(row)
