"""API requests and generations per UTC day, against the caller's plan limits.

Reads the rate limiter's exact counters (`usage_counters`, windows `day` and
`generation_day`, `window_start` = UTC midnight in epoch seconds, subject = the
user id): one D1 query for the whole range, never cached (quota numbers must be
current). A plan without a daily request cap keeps no daily request counter, so
its `apiRequests` are null rather than a misleading zero. How far back a day can
be answered is the counters' retention (`maintenance.RETENTION_SECONDS`): older
days read as zero once their rows are pruned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devcapsules.bindings.protocols import Database
from devcapsules.services.analytics.ranges import DayRange
from devcapsules.services.plans import PlanLimits

_COUNTS = """
SELECT window, window_start, count FROM usage_counters
WHERE subject = ?1 AND window IN ('day', 'generation_day') AND window_start BETWEEN ?2 AND ?3
"""


def midnight(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


async def usage_report(
    db: Database, user_id: str, plan: str, caps: PlanLimits, days: DayRange
) -> dict[str, Any]:
    each_day = days.each_day()
    statement = db.prepare(_COUNTS).bind(user_id, midnight(each_day[0]), midnight(each_day[-1]))
    rows = (await statement.all())["results"]
    counts = {(row["window"], row["window_start"]): row["count"] for row in rows}
    requests_counted = caps.requests_per_day is not None
    daily = [
        {
            "date": day,
            "apiRequests": counts.get(("day", midnight(day)), 0) if requests_counted else None,
            "generations": counts.get(("generation_day", midnight(day)), 0),
        }
        for day in each_day
    ]
    return {
        "plan": plan,
        "limits": {
            "requestsPerDay": caps.requests_per_day,
            "generationsPerDay": caps.generations_per_day,
        },
        "range": days.public(),
        "totals": {
            "apiRequests": sum(d["apiRequests"] or 0 for d in daily) if requests_counted else None,
            "generations": sum(d["generations"] for d in daily),
        },
        "daily": daily,
    }
