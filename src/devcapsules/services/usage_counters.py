"""Exact request counters in D1's `usage_counters`: one atomic check-and-count per request.

`hit()` costs ONE binding round trip (one `batch`, which D1 runs as one transaction):

1. one INSERT that upserts a row per window (minute, day) **only if every window is
   still under its limit**. The limit checks are scalar subqueries over the table being
   inserted into; SQL evaluates an `INSERT ... SELECT` completely before writing (SQLite
   materialises it when the SELECT reads the target table), so all checks see the state
   *before* this request and the windows are counted all-or-nothing;
2. a SELECT of the windows' counts after that, for the headers.

A refused request therefore consumes nothing: hammering past the minute limit does not
eat the day's budget, and a client that was refused all day is not still "over" the next
day because of its refusals. D1 serialises writes (one SQLite writer per database), and the
local binding holds a lock around each batch, so concurrent requests are counted exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devcapsules.bindings.protocols import Database


@dataclass(frozen=True)
class Window:
    name: str  # "minute" or "day" (the `usage_counters.window` CHECK constraint)
    start: int  # epoch seconds
    limit: int


@dataclass(frozen=True)
class Hit:
    allowed: bool
    counts: dict[str, int]  # window -> count including this request when allowed


def _params(subject: str, windows: Sequence[Window]) -> list[object]:
    """?1 = subject; window i uses ?(3i+2) name, ?(3i+3) start, ?(3i+4) limit."""
    values: list[object] = [subject]
    for window in windows:
        values += [window.name, window.start, window.limit]
    return values


def _increment_sql(count: int) -> str:
    rows = ", ".join(f"(?{3 * i + 2}, ?{3 * i + 3})" for i in range(count))
    checks = " AND ".join(
        f"COALESCE((SELECT count FROM usage_counters WHERE subject = ?1 "
        f"AND window = ?{3 * i + 2} AND window_start = ?{3 * i + 3}), 0) < ?{3 * i + 4}"
        for i in range(count)
    )
    # The WHERE also keeps SQLite's upsert grammar unambiguous after a SELECT.
    return (
        "INSERT INTO usage_counters (subject, window, window_start, count) "
        f"SELECT ?1, w.column1, w.column2, 1 FROM (VALUES {rows}) AS w WHERE {checks} "
        "ON CONFLICT (subject, window, window_start) DO UPDATE SET count = count + 1 "
        "RETURNING window, count"
    )


async def hit(db: Database, subject: str, windows: Sequence[Window]) -> Hit:
    """Count one request in every window, or in none if any window is full."""
    if not windows:
        return Hit(allowed=True, counts={})
    params = _params(subject, windows)
    increment = db.prepare(_increment_sql(len(windows))).bind(*params)
    pairs = [(window.name, window.start) for window in windows]
    incremented, current = await db.batch([increment, _read_statement(db, subject, pairs)])
    return Hit(allowed=bool(incremented["results"]), counts=_counts(pairs, current))


async def read_counts(
    db: Database, subject: str, windows: Sequence[tuple[str, int]]
) -> dict[str, int]:
    """Current counts for (window, start) pairs; absent rows count 0. One round trip."""
    return _counts(windows, await _read_statement(db, subject, windows).all())


def _read_statement(db: Database, subject: str, windows: Sequence[tuple[str, int]]):
    matches = " OR ".join("(window = ? AND window_start = ?)" for _ in windows)
    sql = f"SELECT window, count FROM usage_counters WHERE subject = ? AND ({matches})"
    return db.prepare(sql).bind(subject, *(value for pair in windows for value in pair))


def _counts(windows: Sequence[tuple[str, int]], result: dict) -> dict[str, int]:
    counts = {name: 0 for name, _ in windows}
    counts.update({row["window"]: row["count"] for row in result["results"]})
    return counts
