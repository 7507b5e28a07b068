"""Capsules in D1: the only module with capsule SQL.

Cost per call, in D1 round trips: `get` and `list_visible` one query each; `create`,
`update` and `soft_delete` one `batch` each (the batch is D1's transaction). JSON
columns are written from validated models and validated again when read back.

Tags live twice: in the `tags` JSON column (the capsule's own, ordered list) and in
`capsule_tags` (one row per tag, so the tag filter is an index lookup). Writes keep
both in the same batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.schemas.capsules import TEST_CASES, CapsuleContent, dump_test_case
from devcapsules.services.capsule_access import Audience
from devcapsules.services.clock import iso
from devcapsules.services.cursors import decode_cursor, encode_cursor

_COLUMNS = (
    "id, owner_id, title, description, problem, language, difficulty, starter_code,"
    " solution, function_name, test_cases, hints, tags, visibility, status, source,"
    " generation_job_id, quality_score, version, created_at, updated_at"
)
# API field -> column, for the fields clients write.
FIELD_COLUMNS = {
    "title": "title",
    "description": "description",
    "problem": "problem",
    "language": "language",
    "difficulty": "difficulty",
    "starterCode": "starter_code",
    "solution": "solution",
    "functionName": "function_name",
    "testCases": "test_cases",
    "hints": "hints",
    "tags": "tags",
    "visibility": "visibility",
    "status": "status",
}
_JSON_COLUMNS = ("test_cases", "hints", "tags")
# True while the capsule still has the version the writer read: every statement of an
# update batch carries it, so a writer that lost the race changes nothing at all.
_VERSION_GUARD = (
    "EXISTS (SELECT 1 FROM capsules WHERE id = ? AND version = ? AND deleted_at IS NULL)"
)


class CorruptRow(RuntimeError):
    """A stored JSON column does not hold what the API writes (a bug or a manual edit)."""


@dataclass(frozen=True)
class Capsule:
    id: str
    owner_id: str
    title: str
    description: str
    problem: str
    language: str
    difficulty: str
    starter_code: str
    solution: str
    function_name: str | None
    test_cases: list[dict[str, Any]]
    hints: list[str]
    tags: list[str]
    visibility: str
    status: str
    source: str
    generation_job_id: str | None
    quality_score: float | None
    version: int
    created_at: str
    updated_at: str

    def content(self) -> dict[str, Any]:
        """The client-writable fields, by API name (what PATCH merges into)."""
        return {name: getattr(self, column) for name, column in FIELD_COLUMNS.items()}


@dataclass
class ListQuery:
    audience: Audience
    own_only: bool = False  # owner=me
    limit: int = 20
    cursor: str | None = None
    filters: dict[str, str] = field(default_factory=dict)  # column -> value
    tag: str | None = None
    text: str | None = None


def content_columns(content: CapsuleContent) -> dict[str, Any]:
    """A validated model -> column values (JSON columns still as Python lists)."""
    values = {FIELD_COLUMNS[name]: getattr(content, name) for name in type(content).model_fields}
    values["test_cases"] = [dump_test_case(case) for case in content.testCases]
    return values


def _from_row(row: dict[str, Any]) -> Capsule:
    data = dict(row)
    try:
        for column in _JSON_COLUMNS:
            data[column] = json.loads(data[column])
        TEST_CASES.validate_python(data["test_cases"])
        if not all(isinstance(v, str) for v in data["hints"] + data["tags"]):
            raise ValueError("hints and tags must be lists of strings")
    except (ValueError, TypeError) as exc:
        raise CorruptRow(f"capsule {row.get('id')}: {exc}") from None
    return Capsule(**data)


def _to_db(column: str, value: Any) -> Any:
    return json.dumps(value, separators=(",", ":")) if column in _JSON_COLUMNS else value


def _first(results: list[dict[str, Any]]) -> Capsule | None:
    rows = results[0]["results"] if results else []
    return _from_row(rows[0]) if rows else None


async def create(
    db: Database,
    owner_id: str,
    content: CapsuleContent,
    *,
    capsule_id: str,
    now: datetime,
    source: str = "manual",
    generation_job_id: str | None = None,
    quality_score: float | None = None,
) -> Capsule:
    """A new draft (version 1). Generation calls this too, with source="generated"."""
    stamp = iso(now)
    values = {
        "id": capsule_id,
        "owner_id": owner_id,
        **content_columns(content),
        "status": "draft",
        "source": source,
        "generation_job_id": generation_job_id,
        "quality_score": quality_score,
        "version": 1,
        "created_at": stamp,
        "updated_at": stamp,
    }
    columns = ", ".join(values)
    insert = db.prepare(
        f"INSERT INTO capsules ({columns}) VALUES ({', '.join('?' * len(values))})"
        f" RETURNING {_COLUMNS}"
    ).bind(*(_to_db(column, value) for column, value in values.items()))
    statements = [insert, *_insert_tags(db, values["id"], values["tags"])]
    return _first(await db.batch(statements))


def _insert_tags(db: Database, capsule_id: str, tags: list[str], guard: tuple = ()) -> list:
    """One statement for all tags (json_each), optionally guarded by a version check."""
    if not tags:
        return []
    where = f" WHERE {_VERSION_GUARD}" if guard else ""
    return [
        db.prepare(
            f"INSERT INTO capsule_tags (capsule_id, tag) SELECT ?, value FROM json_each(?){where}"
        ).bind(capsule_id, json.dumps(tags), *guard)
    ]


async def get(db: Database, capsule_id: str) -> Capsule | None:
    """A capsule that is not deleted, whoever owns it (callers apply the access rules)."""
    row = (
        await db.prepare(f"SELECT {_COLUMNS} FROM capsules WHERE id = ? AND deleted_at IS NULL")
        .bind(capsule_id)
        .first()
    )
    return _from_row(row) if row else None


async def update(
    db: Database, capsule_id: str, expected_version: int, changes: dict[str, Any], *, now: datetime
) -> Capsule | None:
    """Apply column changes if the capsule is still at `expected_version`; None if not.

    The UPDATE is conditional (`WHERE version = ?`) and bumps the version, so of two
    concurrent writers that read the same version exactly one wins.
    """
    guard = (capsule_id, expected_version)
    statements = []
    if "tags" in changes:
        statements.append(
            db.prepare(f"DELETE FROM capsule_tags WHERE capsule_id = ? AND {_VERSION_GUARD}").bind(
                capsule_id, *guard
            )
        )
        statements += _insert_tags(db, capsule_id, changes["tags"], guard)
    assignments = "".join(f"{column} = ?, " for column in changes)
    statements.append(
        db.prepare(
            f"UPDATE capsules SET {assignments}version = version + 1, updated_at = ?"
            f" WHERE id = ? AND version = ? AND deleted_at IS NULL RETURNING {_COLUMNS}"
        ).bind(
            *(_to_db(column, value) for column, value in changes.items()),
            iso(now),
            *guard,
        )
    )
    results = await db.batch(statements)
    return _first(results[-1:])


async def soft_delete(
    db: Database, capsule_id: str, expected_version: int, *, now: datetime
) -> bool:
    """Mark deleted (kept for audit and undo; invisible everywhere). False if it lost a race."""
    stamp = iso(now)
    results = await db.batch(
        [
            db.prepare(
                "UPDATE capsules SET deleted_at = ?, updated_at = ?, version = version + 1"
                " WHERE id = ? AND version = ? AND deleted_at IS NULL"
            ).bind(stamp, stamp, capsule_id, expected_version)
        ]
    )
    return results[0]["meta"]["changes"] == 1


async def list_visible(db: Database, query: ListQuery) -> tuple[list[Capsule], str | None]:
    """One page, newest first, and the cursor of the next page (None on the last)."""
    where, args = _list_conditions(query)
    order = "ORDER BY created_at DESC, id DESC LIMIT ?"
    # One row more than asked tells whether another page exists, in the same query.
    limit = query.limit + 1
    selects, bound = [], []
    for clause, clause_args in _visibility_branches(query.audience, query.own_only):
        selects.append(
            f"SELECT * FROM (SELECT {_COLUMNS} FROM capsules WHERE deleted_at IS NULL"
            f" AND {clause}{where} {order})"
        )
        bound += [*clause_args, *args, limit]
    sql = " UNION ALL ".join(selects) + f" {order}"
    result = await db.prepare(sql).bind(*bound, limit).all()
    capsules = [_from_row(row) for row in result["results"]]
    if len(capsules) <= query.limit:
        return capsules, None
    last = capsules[query.limit - 1]
    return capsules[: query.limit], encode_cursor(last.created_at, last.id)


def _list_conditions(query: ListQuery) -> tuple[str, list[Any]]:
    """Filters, text search and the cursor position, as `AND ...` and their arguments."""
    where, args = [], []
    for column, value in query.filters.items():
        where.append(f"{column} = ?")
        args.append(value)
    if query.tag is not None:
        where.append("id IN (SELECT capsule_id FROM capsule_tags WHERE tag = ?)")
        args.append(query.tag)
    if query.text is not None:
        pattern = f"%{escape_like(query.text)}%"
        where.append("(title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
        args += [pattern, pattern]
    if query.cursor is not None:
        created_at, last_id = decode_cursor(query.cursor)
        where.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args += [created_at, created_at, last_id]
    return "".join(f" AND {condition}" for condition in where), args


def _visibility_branches(who: Audience, own_only: bool) -> list[tuple[str, list[Any]]]:
    """Lists show own capsules (widget keys: own published ones) and everyone's public
    published ones; unlisted capsules of others never appear in lists.

    Two branches, each served by its index (capsules_owner_list, capsules_public_list)
    and merged with UNION ALL: a single `owner_id = ? OR ...` makes SQLite scan the
    table and sort. The public branch leaves out the viewer's own rows, so no row
    appears twice.
    """
    public = "status = 'published' AND visibility = 'public'"
    if who.user_id is None:
        return [(public, [])]
    own = "owner_id = ?" + (" AND status = 'published'" if who.own_published_only else "")
    if own_only:
        return [(own, [who.user_id])]
    return [(own, [who.user_id]), (f"{public} AND owner_id != ?", [who.user_id])]


def escape_like(text: str) -> str:
    """Make %, _ and the escape character itself match literally in a LIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class CapsuleRef:
    id: str
    owner_id: str
    title: str
    status: str
    visibility: str


async def find_refs(
    db: Database, *, ids: Sequence[str] | None = None, owner_id: str | None = None
) -> list[CapsuleRef]:
    """Light refs of live capsules, in bulk: by id (one bound parameter for up to 100 ids,
    via json_each) or by owner. For analytics, which checks many ids per request."""
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
        raise ValueError("find_refs needs ids or owner_id")
    return [CapsuleRef(**row) for row in result["results"]]


async def find_id_by_generation_job(db: Database, job_id: str) -> str | None:
    """The capsule a generation job already created, if any (a redelivered job reuses it
    instead of creating a second one). The unique index `capsules_generation_job` makes
    it at most one, deleted or not."""
    return await (
        db.prepare("SELECT id FROM capsules WHERE generation_job_id = ?").bind(job_id).first("id")
    )
