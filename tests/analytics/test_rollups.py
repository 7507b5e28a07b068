"""Rollups against a brute-force recount of the raw events, on seeded random data.

Hundreds of events over many days, sessions and capsules, sent in batches of up to
100 with duplicates (exact resends, and resends with different content: the first
stored wins) and a few invalid events mixed in.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from tests.analytics.support import (
    day,
    event,
    now,
    post,
    recount_daily,
    recount_outcomes,
    report_url,
)
from tests.capsules.support import create

DAYS = 40
TYPES = (
    ["capsule_view"] * 4
    + ["code_run"] * 3
    + ["test_run"] * 4
    + ["capsule_completed", "hint_revealed"]
)


def random_event(rng: random.Random, capsule_ids: list[str], serial: int) -> dict[str, Any]:
    kind = rng.choice(TYPES)
    # Whole seconds: the stored instant (milliseconds) orders exactly like the recount.
    moment = (now() - timedelta(seconds=rng.randrange(60, DAYS * 86_400))).replace(microsecond=0)
    properties: dict[str, Any] = {}
    if kind == "test_run":
        total = rng.randint(1, 5)
        properties = {"passed": rng.choice([total, rng.randint(0, total)]), "total": total}
    elif kind == "hint_revealed":
        properties = {"hintIndex": rng.randint(0, 3)}
    return event(
        rng.choice(capsule_ids),
        kind,
        id=f"r{serial}",
        sessionId=f"sess-{rng.randint(1, 30)}",
        timestamp=moment.isoformat(),
        properties=properties,
    )


def send_with_duplicates(client, headers, rng, events) -> list[dict[str, Any]]:
    """Send everything (plus resends) in shuffled batches; return what should be stored."""
    resends = [dict(e) for e in rng.sample(events, 80)]
    for copy in resends[:20]:  # same id, different content: must not replace the first
        copy["sessionId"] = "sess-impostor"
    # Originals go first so that "first stored wins" is well defined for the recount;
    # each part is shuffled, so days, sessions and capsules arrive interleaved.
    originals, later = list(events), resends + [{"id": "broken", "type": "nope"}] * 5
    rng.shuffle(originals)
    rng.shuffle(later)
    traffic = originals + later
    accepted = duplicates = 0
    for start in range(0, len(traffic), 100):
        response = post(client, headers, traffic[start : start + 100])
        assert response.status in (200, 207), response.body
        body = response.json()
        accepted += body["accepted"]
        duplicates += body["duplicates"]
    assert accepted == len(events)
    assert duplicates == len(resends)
    return events


@pytest.fixture
def dataset(client, owner) -> dict[str, Any]:
    rng = random.Random(20260213)
    capsule_ids = [create(client, owner, title=f"Capsule {n}")["id"] for n in range(4)]
    events = [random_event(rng, capsule_ids, n) for n in range(700)]
    stored = send_with_duplicates(client, owner.headers, rng, events)
    return {"capsules": capsule_ids, "stored": stored}


def test_daily_rollups_equal_a_recount_of_raw_events(client, dataset):
    expected = recount_daily(dataset["stored"])
    rows = client.run(client.env.db.prepare("SELECT * FROM analytics_daily").all())["results"]
    actual = {
        (r["capsule_id"], r["day"]): {
            "views": r["views"],
            "runs": r["runs"],
            "testRuns": r["test_runs"],
            "testRunsPassed": r["test_runs_passed"],
            "completions": r["completions"],
            "hints": r["hints"],
            "uniqueSessions": r["unique_sessions"],
        }
        for r in rows
    }
    assert actual == expected


def test_raw_events_are_stored_once_with_first_content(client, dataset):
    rows = client.run(
        client.env.db.prepare("SELECT event_id, session_id FROM analytics_events").all()
    )["results"]
    assert len(rows) == len(dataset["stored"])
    assert "sess-impostor" not in {row["session_id"] for row in rows}


@pytest.mark.parametrize("span", [(0, 39), (5, 12), (20, 20)])
def test_report_matches_recount_for_ranges(client, owner, dataset, span):
    today = now().date()
    start, end = today - timedelta(days=span[1]), today - timedelta(days=span[0])
    for capsule_id in dataset["capsules"]:
        in_range = [
            e
            for e in dataset["stored"]
            if e["capsuleId"] == capsule_id and start.isoformat() <= day(e) <= end.isoformat()
        ]
        response = client.get(report_url(capsule_id, str(start), str(end)), headers=owner.headers)
        assert response.status == 200, response.body
        report = response.json()
        _check_report(report, in_range, recount_daily(in_range), recount_outcomes(in_range))
        assert len(report["daily"]) == (end - start).days + 1


def _check_report(report, in_range, daily, outcomes) -> None:
    for name in ("views", "runs", "testRuns", "testRunsPassed", "completions", "hints"):
        assert report[name] == sum(row[name] for row in daily.values()), name
    assert report["uniqueSessions"] == outcomes["uniqueSessions"]
    assert report["completionRate"] == outcomes["completionRate"]
    assert report["medianAttemptsToPass"] == outcomes["medianAttemptsToPass"]
    tests = report["testRuns"]
    assert report["passRate"] == (round(report["testRunsPassed"] / tests, 4) if tests else None)
    by_day = {key[1]: row for key, row in daily.items()}
    for point in report["daily"]:
        expected = by_day.get(point["date"])
        if expected is None:
            assert all(v == 0 for k, v in point.items() if k != "date"), point
        else:
            assert {k: point[k] for k in expected} == expected


def test_overview_totals_equal_the_sum_of_capsule_reports(client, owner, dataset):
    today = now().date()
    start = today - timedelta(days=19)
    query = f"?from={start}&to={today}&limit=2"
    overview = client.get(f"/api/v1/analytics/overview{query}", headers=owner.headers).json()
    reports = [
        client.get(report_url(cid, str(start), str(today)), headers=owner.headers).json()
        for cid in dataset["capsules"]
    ]
    for name in ("views", "uniqueSessions", "runs", "testRuns", "completions", "hints"):
        assert overview["totals"][name] == sum(r[name] for r in reports), name
    ranked = sorted(reports, key=lambda r: (-r["views"], -r["runs"], r["capsuleId"]))
    assert [c["capsuleId"] for c in overview["topCapsules"]] == [r["capsuleId"] for r in ranked[:2]]
    previous_start = start - timedelta(days=20)
    previous = [
        client.get(
            report_url(cid, str(previous_start), str(start - timedelta(days=1))),
            headers=owner.headers,
        ).json()
        for cid in dataset["capsules"]
    ]
    views_before = sum(r["views"] for r in previous)
    assert overview["previousTotals"]["views"] == views_before
    expected_trend = round((overview["totals"]["views"] - views_before) / views_before, 4)
    assert overview["trend"]["views"] == expected_trend
