"""Seams to features other modules own. Each is ONE function, so wiring is a one-line swap.

Until those modules are committed these fallbacks do the job themselves, against the
committed schema (0001): the generation quota on `usage_counters` (window
`generation_day`, subject = user id), the capsule row in `capsules`, and the tests in
the local sandbox library (`devcapsules.executor`).

To wire (see the report to the lead):
- `consume_quota`  -> `services.quota.consume_generation(...)`
- `refund_quota`   -> `services.quota.refund_generation(...)`
- `save_capsule`   -> `services.capsules.create(..., source="generated", ...)` plus the
  job's `complete_statement` in the same D1 batch, if `create` can take extra statements
- `test_runner`    -> the execution service's Executor (`services.execution`), which on
  the edge calls the remote executor; the sandbox library only runs on CPython.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import Database
from devcapsules.http import HTTPError
from devcapsules.principal import Principal
from devcapsules.services.clock import iso, new_id, parse_iso, utc_now
from devcapsules.services.generation import jobs
from devcapsules.services.generation.providers.base import ExecutorUnavailable

DAY_SECONDS = 86_400
# The seed's generation limits; None = unlimited.
GENERATIONS_PER_DAY = {"free": 5, "creator": 100, "team": 500, "enterprise": None}

TestRunner = Callable[[str, list[dict], str, str], Awaitable[Any]]


def _day_start(epoch: int) -> int:
    return epoch - epoch % DAY_SECONDS


def _limit(vars: dict[str, str], plan: str) -> int | None:
    raw = vars.get(f"PLAN_{plan.upper()}_GENERATIONS_PER_DAY")
    if raw is None:
        return GENERATIONS_PER_DAY.get(plan, GENERATIONS_PER_DAY["free"])
    return None if raw.strip().lower() == "unlimited" else int(raw)


async def consume_quota(env: Env, principal: Principal) -> None:
    """Count one generation for today (UTC) or raise 429 when the plan's day is used up."""
    now = int(utc_now().timestamp())
    limit = _limit(dict(env.vars), principal.plan)
    cap = "" if limit is None else " WHERE usage_counters.count < ?"
    sql = (
        "INSERT INTO usage_counters (subject, window, window_start, count)"
        " VALUES (?, 'generation_day', ?, 1)"
        f" ON CONFLICT (subject, window, window_start) DO UPDATE SET count = count + 1{cap}"
        " RETURNING count"
    )
    args: list[Any] = [principal.user_id, _day_start(now)]
    if limit is not None:
        args.append(limit)
    # A limit of 0 must refuse even the first generation of the day.
    row = None if limit == 0 else await env.db.prepare(sql).bind(*args).first()
    if row is None:
        reset = _day_start(now) + DAY_SECONDS
        raise HTTPError(
            429,
            "generation_quota_exceeded",
            f"Daily generation quota of {limit} reached for the {principal.plan} plan",
            details={"limit": limit, "plan": principal.plan, "resetAt": reset},
            headers={"Retry-After": str(reset - now)},
        )


async def refund_quota(env: Env, user_id: str, counted_at: str) -> None:
    """Give back one generation on the UTC day it was counted (never below zero)."""
    day = _day_start(int(parse_iso(counted_at).timestamp()))
    await (
        env.db.prepare(
            "UPDATE usage_counters SET count = max(count - 1, 0)"
            " WHERE subject = ? AND window = 'generation_day' AND window_start = ?"
        )
        .bind(user_id, day)
        .run()
    )


async def save_capsule(
    db: Database, job: jobs.Job, capsule: dict[str, Any], score: float, generation_ms: int
) -> str | None:
    """Insert the draft capsule and complete the job in one D1 batch (one transaction).

    The insert is guarded by the job's lease token, so a delivery that lost its lease
    writes nothing; returns the capsule id, or None when the lease was lost.
    """
    capsule_id = new_id("cap")
    now = iso(utc_now())
    values = {
        "id": capsule_id,
        "owner_id": job.user_id,
        "title": capsule["title"],
        "description": capsule["description"],
        "problem": capsule["problem"],
        "language": job.language,
        "difficulty": capsule["difficulty"],
        "starter_code": capsule["starterCode"],
        "solution": capsule["solution"],
        "function_name": capsule["functionName"],
        "test_cases": json.dumps(capsule["testCases"], separators=(",", ":")),
        "hints": json.dumps(capsule["hints"]),
        "tags": json.dumps(capsule["tags"]),
        "status": "draft",
        "source": "generated",
        "generation_job_id": job.id,
        "quality_score": score,
        "created_at": now,
        "updated_at": now,
    }
    guard = (
        "EXISTS (SELECT 1 FROM generation_jobs WHERE id = ? AND lease_until = ?"
        " AND status = 'processing')"
    )
    insert = db.prepare(
        f"INSERT INTO capsules ({', '.join(values)})"
        f" SELECT {', '.join('?' * len(values))} WHERE {guard}"
    ).bind(*values.values(), job.id, job.lease_until)
    tags = db.prepare(
        "INSERT OR IGNORE INTO capsule_tags (capsule_id, tag)"
        " SELECT ?, value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM capsules WHERE id = ?)"
    ).bind(capsule_id, values["tags"], capsule_id)
    done = jobs.complete_statement(db, job, capsule_id, score, generation_ms)
    results = await db.batch([insert, tags, done])
    return capsule_id if results[2]["meta"]["changes"] == 1 else None


def test_runner(env: Env) -> TestRunner:
    """Runs (code, test_cases, language, function_name) -> executor TestRunResult."""
    from devcapsules.executor import SandboxUnavailable, run_tests

    async def run(code: str, cases: list[dict], language: str, function_name: str) -> Any:
        try:
            return await run_tests(code, cases, language, function_name)
        except SandboxUnavailable as exc:
            raise ExecutorUnavailable(str(exc)) from None

    return run
