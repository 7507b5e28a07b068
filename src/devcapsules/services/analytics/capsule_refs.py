"""The one seam between analytics and capsules: who owns which capsule, in bulk.

Capsule SQL belongs to `services/capsules.py`, which exports `get` (one capsule,
the full row, JSON columns parsed). Analytics needs a light bulk lookup instead:
ingestion checks up to 100 ids in one query, the overview lists an owner's
capsules, and reports need only the owner and title. This function is that
lookup and the only capsule query analytics makes: moving it into the capsules
module is a one-function change. Access rules stay the capsules module's own
(`capsule_access.can_read`), applied to these refs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from devcapsules.bindings.protocols import Database


@dataclass(frozen=True)
class CapsuleRef:
    id: str
    owner_id: str
    title: str
    status: str
    visibility: str


async def find_capsules(
    db: Database, *, ids: Sequence[str] | None = None, owner_id: str | None = None
) -> list[CapsuleRef]:
    """Live (not deleted) capsules by id (one bound parameter for up to 100 ids) or by owner."""
    columns = "id, owner_id, title, status, visibility"
    if ids is not None:
        sql = (
            f"SELECT {columns} FROM capsules WHERE deleted_at IS NULL"
            " AND id IN (SELECT value FROM json_each(?))"
        )
        result = await db.prepare(sql).bind(json.dumps(list(ids))).all()
    elif owner_id is not None:
        sql = f"SELECT {columns} FROM capsules WHERE deleted_at IS NULL AND owner_id = ?"
        result = await db.prepare(sql).bind(owner_id).all()
    else:
        raise ValueError("find_capsules needs ids or owner_id")
    return [CapsuleRef(**row) for row in result["results"]]
