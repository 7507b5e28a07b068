"""Server-side events: executions made through our API feed the same rollups.

The execution service calls `record_execution_event` (off the response path,
through `wait_until`). The event id is the execution id, so a widget that also
reports the run with `id = executionId` is deduplicated, not counted twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devcapsules.bindings.env import Env
from devcapsules.services.analytics.ingest import event_row, store_rows
from devcapsules.services.analytics.options import AnalyticsOptions
from devcapsules.services.capsules import find_refs
from devcapsules.services.clock import iso, utc_now

KINDS = {"run": "code_run", "tests": "test_run"}


async def record_execution_event(
    env: Env,
    options: AnalyticsOptions,
    *,
    execution_id: str,
    capsule_id: str | None,
    kind: str,
    session_id: str,
    occurred_at: datetime | None = None,
    tests_passed: int | None = None,
    tests_total: int | None = None,
) -> bool:
    """Record one `/execute` (`kind="run"`) or `/execute/tests` (`kind="tests"`) call.

    `session_id`: the widget's session id when the request carried one, else the
    caller's user id (it is only ever stored hashed in the rollups). Returns
    False when there is nothing to record (no capsule, unknown capsule, or a
    duplicate), True when the event was counted.
    """
    if capsule_id is None or kind not in KINDS:
        return False
    if not await find_refs(env.db, ids=[capsule_id]):
        return False
    now = utc_now()
    moment = occurred_at or now
    if moment < now - timedelta(days=options.retention_days):
        return False
    properties, passed = _properties(kind, tests_passed, tests_total)
    row = event_row(
        capsule_id=capsule_id,
        event_id=execution_id[:64],
        event_type=KINDS[kind],
        session_id=session_id[:128],
        occurred_at=moment,
        properties=properties,
        passed=passed,
        salt=options.session_salt,
    )
    return await store_rows(env.db, [row], iso(now)) == 1


def _properties(kind: str, passed: int | None, total: int | None) -> tuple[dict, bool]:
    if kind != "tests":
        return {}, False
    total = max(total or 0, 0)
    passed = min(max(passed or 0, 0), total)
    return {"passed": passed, "total": total}, total > 0 and passed == total
