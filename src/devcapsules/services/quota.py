"""The daily generation quota: charged when a job is accepted, refunded when it fails
for our reasons (provider down, dead-lettered). Exact, and idempotent per job id.

The generation feature calls exactly two functions:

    grant = await consume_generation(ctx, user_id, plan, job_id)   # accept time
    refunded = await refund_generation(ctx, job_id)                  # our failure

Idempotency is keyed by the **job id** (table `quota_charges`, migration 0002; the old
`generation_jobs.quota_refunded` flag is dropped by 0007): a charge row records which UTC
day was charged, so a refund after midnight returns the generation to the right day, and
the quota works even
when the job row was never written (charge first, insert job, refund if the insert
fails). Consuming twice for one job charges once; refunding twice (queue redelivery,
DLQ after a retry already refunded) refunds once; refunding an uncharged job is a no-op.

Each call is ONE D1 batch (one transaction). Statements inside it cannot see each
other's results, so the charge row carries a per-call `charge_token`: the counter is
incremented only when the charge row holding *this call's* token exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from devcapsules.context import Context
from devcapsules.errors import QuotaExceeded
from devcapsules.services.clock import iso
from devcapsules.services.plans import epoch_iso, epoch_now, window_reset, window_start

WINDOW = "generation_day"

_USED = (
    "COALESCE((SELECT count FROM usage_counters WHERE subject = ?2 "
    "AND window = 'generation_day' AND window_start = ?3), 0)"
)
_CHARGE = (
    "INSERT INTO quota_charges (job_id, subject, window_start, charge_token, charged_at) "
    f"SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?6 IS NULL OR {_USED} < ?6 "
    "ON CONFLICT (job_id) DO NOTHING"
)
_COUNT = (
    "INSERT INTO usage_counters (subject, window, window_start, count) "
    "SELECT ?2, 'generation_day', ?3, 1 "
    "WHERE EXISTS (SELECT 1 FROM quota_charges WHERE job_id = ?1 AND charge_token = ?4) "
    "ON CONFLICT (subject, window, window_start) DO UPDATE SET count = count + 1"
)
_STATE = (
    f"SELECT {_USED} AS used, "
    "(SELECT charge_token FROM quota_charges WHERE job_id = ?1) AS token, "
    "(SELECT window_start FROM quota_charges WHERE job_id = ?1) AS day"
)


@dataclass(frozen=True)
class GenerationGrant:
    job_id: str
    day: int  # UTC midnight (epoch seconds) the job was charged to
    used: int  # generations counted for this user on the current day
    limit: int | None  # None: unlimited plan (still counted, for usage history)
    reset_at: int  # epoch seconds: next UTC midnight
    charged: bool  # False when this job had already been charged (repeat call)


async def consume_generation(ctx: Context, user_id: str, plan: str, job_id: str) -> GenerationGrant:
    """Charge one generation for `job_id` today (UTC), or raise 429 when the day is used up.

    Idempotent per job id: a repeat call returns the existing charge with charged=False.
    """
    limits = ctx.settings.limits
    now = epoch_now(ctx.deps.clock)
    day = window_start(WINDOW, now)
    limit = limits.for_plan(plan).generations_per_day
    token = secrets.token_hex(8)
    args = (job_id, user_id, day, token, iso(ctx.deps.clock.now()), limit)
    db = ctx.env.db
    # Each statement binds exactly the parameters it uses (?1.. in order).
    _, _, state = await db.batch(
        [
            db.prepare(_CHARGE).bind(*args),
            db.prepare(_COUNT).bind(*args[:4]),
            db.prepare(_STATE).bind(*args[:3]),
        ]
    )
    row = state["results"][0]
    if row["token"] is None:
        raise quota_exceeded(plan, limit, now)
    return GenerationGrant(
        job_id, row["day"], row["used"], limit, window_reset(WINDOW, now), row["token"] == token
    )


def quota_exceeded(plan: str, limit: int | None, now: int) -> QuotaExceeded:
    reset_at = window_reset(WINDOW, now)
    reset_iso = epoch_iso(reset_at)
    return QuotaExceeded(
        "generation_quota_exceeded",
        f"Daily generation quota of {limit} reached for the {plan} plan; resets at {reset_iso}",
        details={
            "window": "day",
            "plan": plan,
            "limit": limit,
            "used": limit,
            "resetAt": reset_iso,
        },
        retry_after_s=max(1, reset_at - now),
    )


_REFUND_COUNTER = (
    "UPDATE usage_counters SET count = count - 1 "
    "WHERE window = 'generation_day' AND count > 0 "
    "AND subject = (SELECT subject FROM quota_charges WHERE job_id = ?1 AND refunded_at IS NULL) "
    "AND window_start = "
    "(SELECT window_start FROM quota_charges WHERE job_id = ?1 AND refunded_at IS NULL)"
)
_REFUND_MARK = (
    "UPDATE quota_charges SET refunded_at = ?2 WHERE job_id = ?1 AND refunded_at IS NULL "
    "RETURNING job_id"
)


async def refund_generation(ctx: Context, job_id: str) -> bool:
    """Give the job's generation back to the day it was charged. True if this call did.

    Safe to call on every failure path and on every redelivery: the counter update and
    the `refunded_at` mark are one transaction, and both require `refunded_at IS NULL`.
    """
    db, now = ctx.env.db, iso(ctx.deps.clock.now())
    _, marked = await db.batch(
        [db.prepare(_REFUND_COUNTER).bind(job_id), db.prepare(_REFUND_MARK).bind(job_id, now)]
    )
    return bool(marked["results"])
