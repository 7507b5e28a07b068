"""Scheduled maintenance: prune old counters and raw analytics events, re-send
generation jobs whose queue message never left.

On the edge the Worker's `scheduled` handler (cron in wrangler.toml `[triggers]`, every
10 minutes) calls `await run_scheduled(env, settings, cron, clock=app.deps.clock)`;
locally `devcapsules dev` runs the same function every 10 minutes (`run_periodically`).
Each task runs even when another one fails: a broken step is logged, never a reason to
skip the rest.

Retention, per window (only the current window is ever read for limiting):
- minute: 2 hours. A minute row is dead 60 s after it starts; keeping every minute for
  days would be most of the table (one row per active subject per minute) for no use.
- day: 35 days: `GET /api/v1/analytics/usage` shows requests per day for a month.
- generation_day and quota charges: 35 days, the usage history a month view needs.

Deletes go in bounded batches (`DELETE ... WHERE rowid IN (SELECT ... LIMIT n)`; D1 has
no `DELETE ... LIMIT`), at most `MAX_STATEMENTS` per run, so one run never holds D1's
single writer for long; whatever is left is picked up by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import Database
from devcapsules.logs import Logger
from devcapsules.services.analytics.prune import prune_events
from devcapsules.services.clock import Clock
from devcapsules.services.generation.dispatch import resend_unsent_jobs
from devcapsules.services.plans import DAY_SECONDS, epoch_now
from devcapsules.settings import Settings

RETENTION_SECONDS = {
    "minute": 2 * 3600,
    "day": 35 * DAY_SECONDS,
    "generation_day": 35 * DAY_SECONDS,
}
CHARGES_RETENTION_SECONDS = 35 * DAY_SECONDS
BATCH_ROWS = 1000
MAX_STATEMENTS = 50
LOCAL_INTERVAL_SECONDS = 600

_PRUNE_COUNTERS = (
    "DELETE FROM usage_counters WHERE rowid IN (SELECT rowid FROM usage_counters "
    "WHERE window = ? AND window_start < ? LIMIT ?)"
)
_PRUNE_CHARGES = (
    "DELETE FROM quota_charges WHERE rowid IN (SELECT rowid FROM quota_charges "
    "WHERE window_start < ? LIMIT ?)"
)


async def run_scheduled(
    env: Env, settings: Settings, cron: str = "", logger: Logger | None = None, *, clock: Clock
) -> dict[str, Any]:
    """Every maintenance task; returns what each did (also logged). `clock`: the app's
    (`ctx.deps.clock`), for the event retention cut-off and the resent jobs' stamps."""
    logger = logger or Logger(level=settings.logging.level)
    summary = await _guarded(logger, "counters", prune_counters(env, settings, clock, cron, logger))
    summary["analyticsEventsPruned"] = await _guarded(
        logger, "analytics", _prune_events(env, settings, clock)
    )
    summary["generationJobsResent"] = await _guarded(
        logger, "generation", resend_unsent_jobs(env, clock, logger=logger)
    )
    return summary


async def _guarded(logger: Logger, task: str, work: Any) -> Any:
    try:
        return await work
    except Exception as exc:
        logger.error("maintenance_task_failed", task=task, error=f"{type(exc).__name__}: {exc}")
        return {} if task == "counters" else None


async def _prune_events(env: Env, settings: Settings, clock: Clock) -> int:
    return await prune_events(env, clock.now(), settings.analytics.retention_days)


async def prune_counters(
    env: Env, settings: Settings, clock: Clock, cron: str = "", logger: Logger | None = None
) -> dict[str, Any]:
    """Prune expired counter rows; returns what was deleted (also logged)."""
    logger = logger or Logger(level=settings.logging.level)
    now = epoch_now(clock)
    budget = Budget(MAX_STATEMENTS)
    deleted: dict[str, int] = {}
    for window, keep in RETENTION_SECONDS.items():
        deleted[window] = await _prune(env.db, _PRUNE_COUNTERS, (window, now - keep), budget)
    cutoff = now - CHARGES_RETENTION_SECONDS
    deleted["quota_charges"] = await _prune(env.db, _PRUNE_CHARGES, (cutoff,), budget)
    summary = {"cron": cron, "deleted": deleted, "complete": not budget.exhausted}
    logger.info("counters_pruned", **summary)
    return summary


class Budget:
    def __init__(self, statements: int):
        self.left = statements
        self.exhausted = False

    def take(self) -> bool:
        if self.left <= 0:
            self.exhausted = True
            return False
        self.left -= 1
        return True


async def _prune(db: Database, sql: str, args: tuple[Any, ...], budget: Budget) -> int:
    total = 0
    while budget.take():
        result = await db.prepare(sql).bind(*args, BATCH_ROWS).run()
        changes = result["meta"]["changes"]
        total += changes
        if changes < BATCH_ROWS:
            break
    return total


async def run_periodically(
    env: Env,
    settings: Settings,
    stop: asyncio.Event,
    logger: Logger,
    clock: Clock,
    interval: float = LOCAL_INTERVAL_SECONDS,
) -> None:
    """The local stand-in for the cron trigger: prune now, then every `interval` seconds."""
    while not stop.is_set():
        try:
            await run_scheduled(env, settings, "local", logger, clock=clock)
        except Exception as exc:  # a failed run must not stop the next one
            logger.error("maintenance_failed", error=f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
