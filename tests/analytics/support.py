"""Event builders and a brute-force recount of raw events, for the analytics tests."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

EVENTS = "/api/v1/analytics/events"
BASE = "/api/v1/analytics"
_ids = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


def event(capsule_id: str, kind: str = "capsule_view", **fields: Any) -> dict[str, Any]:
    """An event with defaults: a fresh id, session s1, a timestamp one hour ago."""
    body = {
        "id": fields.pop("id", f"evt_{next(_ids)}"),
        "type": kind,
        "capsuleId": capsule_id,
        "sessionId": fields.pop("sessionId", "s1"),
        "timestamp": fields.pop("timestamp", (now() - timedelta(hours=1)).isoformat()),
        "properties": fields.pop("properties", {}),
    }
    body.update(fields)
    return body


def graded_run(capsule_id: str, passed: int, total: int, **fields: Any) -> dict[str, Any]:
    return event(capsule_id, "test_run", properties={"passed": passed, "total": total}, **fields)


def post(client: Any, headers: dict[str, str], events: list[Any]) -> Any:
    return client.post(EVENTS, json={"events": events}, headers=headers)


def report_url(capsule_id: str, start: str | None = None, end: str | None = None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (("from", start), ("to", end)) if v)
    return f"{BASE}/capsules/{capsule_id}" + (f"?{query}" if query else "")


COUNTED = {
    "capsule_view": "views",
    "code_run": "runs",
    "test_run": "testRuns",
    "capsule_completed": "completions",
    "hint_revealed": "hints",
}


def day(event: dict[str, Any]) -> str:
    return datetime.fromisoformat(event["timestamp"]).astimezone(UTC).date().isoformat()


def passed(event: dict[str, Any]) -> bool:
    props = event["properties"]
    return event["type"] == "test_run" and props["passed"] == props["total"]


def recount_daily(stored: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, int]]:
    """(capsule, day) -> counters, straight from the raw events."""
    table: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {**dict.fromkeys(COUNTED.values(), 0), "testRunsPassed": 0, "sessions": set()}
    )
    for item in stored:
        row = table[(item["capsuleId"], day(item))]
        row[COUNTED[item["type"]]] += 1
        row["testRunsPassed"] += passed(item)
        row["sessions"].add(item["sessionId"])
    return {
        key: {
            **{k: v for k, v in row.items() if k != "sessions"},
            "uniqueSessions": len(row["sessions"]),
        }
        for key, row in table.items()
    }


def recount_outcomes(stored: list[dict[str, Any]]) -> dict[str, Any]:
    """completionRate and medianAttemptsToPass, by their documented definitions."""
    sessions = {e["sessionId"] for e in stored}
    completed = {e["sessionId"] for e in stored if e["type"] == "capsule_completed"}
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in stored:
        if item["type"] == "test_run":
            runs[item["sessionId"]].append(item)
    attempts = []
    for session_runs in runs.values():
        ordered = sorted(session_runs, key=lambda e: (_instant(e), e["id"]))
        firsts = [n for n, e in enumerate(ordered, 1) if passed(e)]
        if firsts:
            attempts.append(firsts[0])
    return {
        "uniqueSessions": len(sessions),
        "completionRate": round(len(completed) / len(sessions), 4) if sessions else None,
        "medianAttemptsToPass": float(median(attempts)) if attempts else None,
    }


def _instant(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])
