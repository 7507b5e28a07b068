"""The caller's overview: totals over their capsules, top capsules, trend vs the previous period.

One D1 read for the caller's capsules, then one batch of two grouped reads over
the rollups covering both periods. `uniqueSessions` totals add up each capsule's
exact distinct sessions (session hashes are per capsule by design, so a learner
on two capsules is two sessions). `trend[metric]` is the relative change
`(current - previous) / previous`, rounded to 4 places; null when the previous
period had none of it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.services.analytics.ranges import DayRange
from devcapsules.services.capsules import find_refs
from devcapsules.services.clock import iso

METRICS = ("views", "uniqueSessions", "runs", "testRuns", "completions", "hints")

_COUNTS = """
SELECT capsule_id, day >= ?2 AS current, sum(views) AS views, sum(runs) AS runs,
       sum(test_runs) AS testRuns, sum(completions) AS completions, sum(hints) AS hints
FROM analytics_daily
WHERE capsule_id IN (SELECT value FROM json_each(?1)) AND day BETWEEN ?3 AND ?4
GROUP BY capsule_id, current
"""
_SESSIONS = """
SELECT capsule_id, day >= ?2 AS current, count(DISTINCT session_hash) AS uniqueSessions
FROM analytics_sessions
WHERE capsule_id IN (SELECT value FROM json_each(?1)) AND day BETWEEN ?3 AND ?4
GROUP BY capsule_id, current
"""


async def overview(
    db: Database, user_id: str, days: DayRange, limit: int, now: datetime
) -> dict[str, Any]:
    refs = {ref.id: ref for ref in await find_refs(db, owner_id=user_id)}
    per_capsule = await _per_capsule(db, sorted(refs), days) if refs else {}
    current = {cid: periods[1] for cid, periods in per_capsule.items() if any(periods[1].values())}
    totals = _sum(period[1] for period in per_capsule.values())
    previous = _sum(period[0] for period in per_capsule.values())
    ranked = sorted(
        current.items(), key=lambda item: (-item[1]["views"], -item[1]["runs"], item[0])
    )
    top = [{"capsuleId": cid, "title": refs[cid].title, **counts} for cid, counts in ranked[:limit]]
    return {
        "range": days.public(),
        "previousRange": days.previous().public(),
        "totals": totals,
        "previousTotals": previous,
        "trend": {name: _change(totals[name], previous[name]) for name in METRICS},
        "topCapsules": top,
        "generatedAt": iso(now),
    }


async def _per_capsule(
    db: Database, ids: list[str], days: DayRange
) -> dict[str, dict[int, dict[str, int]]]:
    """{capsule: {1: current counts, 0: previous counts}}, zeros where nothing happened."""
    args = (json.dumps(ids), days.start.isoformat(), days.previous().start.isoformat())
    args += (days.end.isoformat(),)
    counts, sessions = await db.batch(
        [db.prepare(_COUNTS).bind(*args), db.prepare(_SESSIONS).bind(*args)]
    )
    result: dict[str, dict[int, dict[str, int]]] = {}
    for row in counts["results"] + sessions["results"]:
        periods = result.setdefault(row["capsule_id"], {0: _zeros(), 1: _zeros()})
        bucket = periods[int(row["current"])]
        bucket.update({k: int(v or 0) for k, v in row.items() if k in METRICS})
    return result


def _zeros() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def _sum(periods: Any) -> dict[str, int]:
    total = _zeros()
    for counts in periods:
        for name in METRICS:
            total[name] += counts[name]
    return total


def _change(current: int, previous: int) -> float | None:
    return round((current - previous) / previous, 4) if previous else None
