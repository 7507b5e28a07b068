"""The capsule report: totals, rates and a zero-filled daily series for a day range.

Counts come from the daily rollups (the read scales with days). Unique sessions
over the range are exact: distinct salted hashes in `analytics_sessions`. The
session-level outcomes (`completionRate`, `medianAttemptsToPass`) need to follow
sessions through their events, so they are computed from raw events and cover
the part of the range inside the retention period. All four reads go to D1 as
one batch: one round trip.

Definitions:
- `passRate`: fully passing test runs ÷ test runs (a test run passes when
  `passed == total`). Null without test runs.
- `completionRate`: sessions with a `capsule_completed` event ÷ sessions with
  any event, in the range. Null without sessions.
- `medianAttemptsToPass`: for each session with a fully passing test run in the
  range, the position (1-based, by event time) of its first passing run among
  its test runs in the range; the median over those sessions (mean of the two
  middle values for an even count). Sessions that never pass are left out: they
  show in `passRate`. Null when no session passed.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.services.analytics.ranges import DayRange
from devcapsules.services.clock import iso

COUNTERS = {
    "views": "views",
    "uniqueSessions": "unique_sessions",
    "runs": "runs",
    "testRuns": "test_runs",
    "testRunsPassed": "test_runs_passed",
    "completions": "completions",
    "hints": "hints",
}

_DAILY = (
    "SELECT day, views, unique_sessions, runs, test_runs, test_runs_passed, completions, hints"
    " FROM analytics_daily WHERE capsule_id = ?1 AND day BETWEEN ?2 AND ?3"
)
_UNIQUE = (
    "SELECT count(DISTINCT session_hash) AS n FROM analytics_sessions"
    " WHERE capsule_id = ?1 AND day BETWEEN ?2 AND ?3"
)
_SESSIONS = """
SELECT count(DISTINCT session_id) AS seen,
       count(DISTINCT CASE WHEN type = 'capsule_completed' THEN session_id END) AS completed
FROM analytics_events WHERE capsule_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3
"""
_ATTEMPTS = """
WITH tests AS (
    SELECT session_id,
           json_extract(properties, '$.total') > 0
               AND json_extract(properties, '$.passed') = json_extract(properties, '$.total')
               AS ok,
           row_number() OVER (PARTITION BY session_id ORDER BY occurred_at, event_id) AS attempt
    FROM analytics_events
    WHERE capsule_id = ?1 AND type = 'test_run' AND occurred_at >= ?2 AND occurred_at < ?3)
SELECT min(attempt) AS attempts FROM tests WHERE ok GROUP BY session_id
"""


async def capsule_report(
    db: Database, capsule_id: str, days: DayRange, now: datetime
) -> dict[str, Any]:
    first, last = days.start.isoformat(), days.end.isoformat()
    since, until = days.bounds()
    daily, unique, sessions, attempts = await db.batch(
        [
            db.prepare(_DAILY).bind(capsule_id, first, last),
            db.prepare(_UNIQUE).bind(capsule_id, first, last),
            db.prepare(_SESSIONS).bind(capsule_id, since, until),
            db.prepare(_ATTEMPTS).bind(capsule_id, since, until),
        ]
    )
    series = zero_filled(days, daily["results"])
    totals = {name: sum(point[name] for point in series) for name in COUNTERS}
    totals["uniqueSessions"] = unique["results"][0]["n"]
    outcome = sessions["results"][0]
    to_pass = [row["attempts"] for row in attempts["results"]]
    return {
        "capsuleId": capsule_id,
        "range": days.public(),
        **totals,
        "passRate": ratio(totals["testRunsPassed"], totals["testRuns"]),
        "completionRate": ratio(outcome["completed"], outcome["seen"]),
        "medianAttemptsToPass": float(median(to_pass)) if to_pass else None,
        "daily": series,
        "generatedAt": iso(now),
    }


def zero_filled(days: DayRange, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per day of the range; days without a rollup row are all zeros."""
    by_day = {row["day"]: row for row in rows}
    series = []
    for day in days.each_day():
        row = by_day.get(day, {})
        point = {"date": day}
        point.update({name: row.get(column, 0) for name, column in COUNTERS.items()})
        series.append(point)
    return series


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
