"""Generation jobs in D1: the only module with `generation_jobs` SQL, and the state machine.

    queued ──claim──▶ processing ──complete──▶ completed
      ▲                   │ └──────fail──────▶ failed
      └─────release───────┘   (transient error: back to queued, the message is retried)

Concurrency rules, because queue delivery is at-least-once:
- `claim` is one conditional UPDATE: a job is worked on only by the delivery holding an
  unexpired lease. The claim number (`attempts`, bumped by every claim) is the fencing
  token: `renew`, `complete`, `fail` and `release` only apply while the caller's claim is
  still the row's and the job is processing, so a delivery that was taken over cannot
  overwrite the one that took over, even one claimed in the same millisecond.
- The lease is short and renewed by a heartbeat while the work runs (`renew`), so the
  job of a delivery that died is free again soon. `lease_holder` names the process (or
  isolate) holding it: a restarted local host gives back at once what its crashed
  predecessor held (`release_holder`); the fencing token keeps that safe even if the
  predecessor were still running.
- Terminal states are final: no statement moves a job out of completed/failed.
- Rows are inserted with `enqueued_at` NULL and marked after the queue accepted the
  message, so a crash between the two leaves a row the recovery sweep can find.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.services.clock import Ids, iso, parse_iso
from devcapsules.services.cursors import decode_cursor, encode_cursor

TERMINAL = ("completed", "failed")
# Stage -> progress shown to pollers.
PROGRESS = {
    "queued": 0,
    "generating": 10,
    "validating": 40,
    "testing": 60,
    "saving": 90,
    "done": 100,
}


@dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    prompt: str
    language: str
    difficulty: str
    status: str
    stage: str
    progress: int
    attempts: int
    created_at: str
    updated_at: str
    api_key_id: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    capsule_id: str | None = None
    quality_score: float | None = None
    provider: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    enqueued_at: str | None = None
    lease_until: str | None = None
    lease_holder: str | None = None
    generation_time_ms: int | None = None
    started_at: str | None = None
    completed_at: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


_FIELDS = tuple(Job.__dataclass_fields__)
_COLUMNS = ", ".join(_FIELDS)


def _job(row: dict[str, Any] | None) -> Job | None:
    return Job(**{k: row[k] for k in _FIELDS}) if row else None


_PROCESS_HOLDER: list[str] = []


def process_holder() -> str:
    """This process's (isolate's) lease-holder id, minted on first use: never at import,
    where the edge's deploy snapshot forbids randomness."""
    if not _PROCESS_HOLDER:
        _PROCESS_HOLDER.append("holder_" + secrets.token_hex(8))
    return _PROCESS_HOLDER[0]


def new_job_id(now: datetime, ids: Ids) -> str:
    """`gen_<epoch-ms>_<8 hex>`, the seed's shape; sorts by creation time."""
    return f"gen_{int(now.timestamp() * 1000)}_{ids.hex(4)}"


def request_hash(prompt: str, language: str, difficulty: str) -> str:
    """What an Idempotency-Key is bound to: the validated request, canonically encoded."""
    canonical = json.dumps(
        {"prompt": prompt, "language": language, "difficulty": difficulty},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# ------------------------------------------------------------ creating and reading


async def insert(
    db: Database,
    *,
    job_id: str,
    user_id: str,
    prompt: str,
    language: str,
    difficulty: str,
    api_key_id: str | None = None,
    idempotency_key: str | None = None,
    now: datetime,
) -> Job | None:
    """A new queued, not-yet-enqueued job; None if the idempotency key is already taken."""
    stamp = iso(now)
    digest = request_hash(prompt, language, difficulty)
    statement = db.prepare(
        "INSERT INTO generation_jobs (id, user_id, api_key_id, prompt, language, difficulty,"
        " idempotency_key, request_hash, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    args = (user_id, api_key_id, prompt, language, difficulty, idempotency_key, digest)
    result = await statement.bind(job_id, *args, stamp, stamp).run()
    if result["meta"]["changes"] == 0:
        return None
    return await get(db, job_id)


async def get(db: Database, job_id: str) -> Job | None:
    row = (
        await db.prepare(f"SELECT {_COLUMNS} FROM generation_jobs WHERE id = ?")
        .bind(job_id)
        .first()
    )
    return _job(row)


async def get_owned(db: Database, job_id: str, user_id: str) -> Job | None:
    row = await (
        db.prepare(f"SELECT {_COLUMNS} FROM generation_jobs WHERE id = ? AND user_id = ?")
        .bind(job_id, user_id)
        .first()
    )
    return _job(row)


async def find_by_idempotency_key(db: Database, user_id: str, key: str) -> Job | None:
    row = await (
        db.prepare(
            f"SELECT {_COLUMNS} FROM generation_jobs WHERE user_id = ? AND idempotency_key = ?"
        )
        .bind(user_id, key)
        .first()
    )
    return _job(row)


async def list_for_user(
    db: Database, user_id: str, *, limit: int, status: str | None = None, cursor: str | None = None
) -> tuple[list[Job], str | None]:
    """Newest first, keyset-paginated with the API's one opaque cursor format."""
    sql = f"SELECT {_COLUMNS} FROM generation_jobs WHERE user_id = ?"
    args: list[Any] = [user_id]
    if status:
        sql += " AND status = ?"
        args.append(status)
    if cursor:
        created, last_id = decode_cursor(cursor)
        sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
        args += [created, created, last_id]
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    args.append(limit + 1)
    rows = (await db.prepare(sql).bind(*args).all())["results"]
    found = [_job(row) for row in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more and found else None
    return found, next_cursor


# ------------------------------------------------------------ the queue hand-off


async def mark_enqueued(db: Database, job_ids: list[str], *, now: datetime) -> None:
    stamp = iso(now)
    statements = [
        db.prepare(
            "UPDATE generation_jobs SET enqueued_at = ?, updated_at = ?"
            " WHERE id = ? AND enqueued_at IS NULL"
        ).bind(stamp, stamp, job_id)
        for job_id in job_ids
    ]
    if statements:
        await db.batch(statements)


async def find_unsent(
    db: Database, *, older_than_seconds: float, limit: int, now: datetime
) -> list[Job]:
    """Queued rows whose message never reached the queue (the partial index serves this)."""
    cutoff = iso(now - timedelta(seconds=older_than_seconds))
    rows = await (
        db.prepare(
            f"SELECT {_COLUMNS} FROM generation_jobs WHERE enqueued_at IS NULL"
            " AND status = 'queued' AND created_at <= ? ORDER BY created_at LIMIT ?"
        )
        .bind(cutoff, limit)
        .all()
    )
    return [_job(row) for row in rows["results"]]


# ------------------------------------------------------------ the state machine


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to take a job for one delivery."""

    outcome: str  # "claimed", "missing", "terminal", "leased"
    job: Job | None = None
    retry_after: int = 0  # for "leased": seconds until the other lease runs out


async def claim(
    db: Database,
    job_id: str,
    provider: str,
    lease_seconds: int,
    holder: str | None = None,
    *,
    now: datetime,
) -> Claim:
    """Take the job unless it is finished or another delivery holds an unexpired lease."""
    until = iso(now + timedelta(seconds=lease_seconds))
    stamp = iso(now)
    row = await (
        db.prepare(
            "UPDATE generation_jobs SET status = 'processing', stage = 'generating',"
            " progress = ?, attempts = attempts + 1, lease_until = ?, lease_holder = ?,"
            " provider = ?, started_at = coalesce(started_at, ?), updated_at = ?"
            " WHERE id = ? AND status IN ('queued', 'processing')"
            " AND (lease_until IS NULL OR lease_until <= ?)"
            f" RETURNING {_COLUMNS}"
        )
        .bind(
            PROGRESS["generating"],
            until,
            holder or process_holder(),
            provider,
            stamp,
            stamp,
            job_id,
            stamp,
        )
        .first()
    )
    if row:
        return Claim("claimed", _job(row))
    job = await get(db, job_id)
    if job is None:
        return Claim("missing")
    if job.is_terminal:
        return Claim("terminal", job)
    remaining = (parse_iso(job.lease_until) - now).total_seconds() if job.lease_until else 0
    return Claim("leased", job, retry_after=max(1, int(remaining) + 1))


# Every write of a delivery is fenced by its claim: still this claim, still processing.
_FENCE = " AND attempts = ? AND status = 'processing'"


async def renew(db: Database, job: Job, lease_seconds: int, *, now: datetime) -> bool:
    """Extend the delivery's lease (its heartbeat); False once the job is not its own."""
    until = iso(now + timedelta(seconds=lease_seconds))
    result = await (
        db.prepare(f"UPDATE generation_jobs SET lease_until = ? WHERE id = ?{_FENCE}")
        .bind(until, job.id, job.attempts)
        .run()
    )
    return result["meta"]["changes"] == 1


async def release_holder(db: Database, holder: str, *, now: datetime) -> int:
    """Give back every job `holder` was processing (a host that crashed): queued again,
    unleased, so the redelivered messages take them at once. Returns how many."""
    result = await (
        db.prepare(
            "UPDATE generation_jobs SET status = 'queued', stage = 'queued', progress = 0,"
            " lease_until = NULL, lease_holder = NULL, updated_at = ?"
            " WHERE lease_holder = ? AND status = 'processing'"
        )
        .bind(iso(now), holder)
        .run()
    )
    return result["meta"]["changes"]


async def set_stage(db: Database, job: Job, stage: str, *, now: datetime) -> None:
    await (
        db.prepare(
            "UPDATE generation_jobs SET stage = ?, progress = ?, updated_at = ?"
            f" WHERE id = ?{_FENCE}"
        )
        .bind(stage, PROGRESS[stage], iso(now), job.id, job.attempts)
        .run()
    )


def complete_statement(
    db: Database, job: Job, capsule_id: str, score: float, generation_ms: int, *, now: datetime
) -> Any:
    """The job's final UPDATE (fenced by the delivery's claim)."""
    stamp = iso(now)
    return db.prepare(
        "UPDATE generation_jobs SET status = 'completed', stage = 'done', progress = 100,"
        " capsule_id = ?, quality_score = ?, generation_time_ms = ?, error_code = NULL,"
        " error_message = NULL, lease_until = NULL, lease_holder = NULL, completed_at = ?,"
        f" updated_at = ? WHERE id = ?{_FENCE}"
    ).bind(capsule_id, score, generation_ms, stamp, stamp, job.id, job.attempts)


async def fail(
    db: Database, job: Job, code: str, message: str, *, fenced: bool = True, now: datetime
) -> bool:
    """Mark failed. `fenced=False` (the DLQ) fails any unfinished job regardless of leases."""
    stamp = iso(now)
    sql = (
        "UPDATE generation_jobs SET status = 'failed', error_code = ?, error_message = ?,"
        " lease_until = NULL, lease_holder = NULL, completed_at = ?, updated_at = ?"
        " WHERE id = ? AND status IN ('queued', 'processing')"
    )
    args: list[Any] = [code, message[:1000], stamp, stamp, job.id]
    if fenced:
        sql += _FENCE
        args.append(job.attempts)
    result = await db.prepare(sql).bind(*args).run()
    return result["meta"]["changes"] == 1


async def release(db: Database, job: Job, code: str, message: str, *, now: datetime) -> None:
    """Give the job back after a transient error; the error is kept as the last one seen."""
    await (
        db.prepare(
            "UPDATE generation_jobs SET status = 'queued', stage = 'queued', progress = 0,"
            " lease_until = NULL, lease_holder = NULL, error_code = ?, error_message = ?,"
            f" updated_at = ? WHERE id = ?{_FENCE}"
        )
        .bind(code, message[:1000], iso(now), job.id, job.attempts)
        .run()
    )
