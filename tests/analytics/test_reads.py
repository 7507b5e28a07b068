"""Reports: access control, date ranges, empty periods, overview, usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics.support import BASE, event, now, post, report_url
from tests.capsules.support import create
from tests.support.auth import create_api_key, key_headers


def days_ago(n: int) -> str:
    return (now().date() - timedelta(days=n)).isoformat()


def test_report_for_someone_elses_or_an_unknown_capsule_is_a_404(client, other, capsule):
    for path in (report_url(capsule["id"]), report_url("cap_missing")):
        response = client.get(path, headers=other.headers)
        assert response.status == 404
        assert response.json()["error"]["code"] == "not_found"
    chart = client.get(report_url(capsule["id"]) + "/chart.svg", headers=other.headers)
    assert chart.status == 404


@pytest.mark.parametrize(
    "path", ["/capsules/cap_x", "/capsules/cap_x/chart.svg", "/overview", "/usage"]
)
def test_reads_need_credentials_and_the_read_scope(client, owner, path):
    assert client.get(BASE + path).status == 401
    key = create_api_key(client, owner, ["analytics:write"])
    response = client.get(BASE + path, headers=key_headers(key))
    assert response.status == 403


def test_an_owners_key_with_analytics_read_sees_the_report(client, owner, capsule):
    post(client, owner.headers, [event(capsule["id"])])
    key = create_api_key(client, owner, ["analytics:read"])
    response = client.get(report_url(capsule["id"]), headers=key_headers(key))
    assert response.status == 200
    assert response.json()["views"] == 1


def test_default_range_is_the_last_30_days_to_today(client, owner, capsule):
    body = client.get(report_url(capsule["id"]), headers=owner.headers).json()
    assert body["range"] == {"from": days_ago(29), "to": days_ago(0), "days": 30}
    assert [p["date"] for p in body["daily"]][::29] == [days_ago(29), days_ago(0)]


def test_an_empty_period_is_zero_filled_with_null_rates(client, owner, capsule):
    post(client, owner.headers, [event(capsule["id"])])  # today: outside the range below
    body = client.get(
        report_url(capsule["id"], days_ago(10), days_ago(4)), headers=owner.headers
    ).json()
    assert len(body["daily"]) == 7
    assert all(p["views"] == p["runs"] == p["uniqueSessions"] == 0 for p in body["daily"])
    assert (body["views"], body["uniqueSessions"]) == (0, 0)
    assert body["passRate"] is body["completionRate"] is body["medianAttemptsToPass"] is None


def test_range_bounds_are_inclusive_utc_days(client, owner, capsule):
    cid = capsule["id"]
    two_days = now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    edges = [two_days, two_days + timedelta(days=1) - timedelta(milliseconds=1)]
    post(client, owner.headers, [event(cid, timestamp=m.isoformat()) for m in edges])
    one_day = client.get(report_url(cid, days_ago(2), days_ago(2)), headers=owner.headers).json()
    assert one_day["views"] == 2
    assert one_day["daily"] == [{**one_day["daily"][0], "date": days_ago(2), "views": 2}]
    later = client.get(report_url(cid, days_ago(1), days_ago(0)), headers=owner.headers).json()
    assert later["views"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "from=yesterday",
        f"from={days_ago(1)}&to={days_ago(2)}",
        f"from={days_ago(400)}&to={days_ago(0)}",
    ],
)
def test_invalid_ranges_are_a_422(client, owner, capsule, query):
    response = client.get(f"{report_url(capsule['id'])}?{query}", headers=owner.headers)
    assert response.status == 422


def test_rates_and_median_attempts(client, owner, capsule):
    cid = capsule["id"]
    base = now() - timedelta(hours=3)

    def run(session, minutes, passed):
        moment = (base + timedelta(minutes=minutes)).isoformat()
        props = {"passed": 2 if passed else 1, "total": 2}
        return event(cid, "test_run", sessionId=session, timestamp=moment, properties=props)

    events = [
        run("a", 1, False), run("a", 2, False), run("a", 3, True), run("a", 4, True),  # 3
        run("b", 1, True),  # 1
        run("c", 1, False),  # never passes: left out of the median
        event(cid, "capsule_completed", sessionId="a"),
        event(cid, "capsule_view", sessionId="d"),
    ]  # fmt: skip
    post(client, owner.headers, events)
    body = client.get(report_url(cid), headers=owner.headers).json()
    assert (body["testRuns"], body["testRunsPassed"]) == (6, 3)
    assert body["passRate"] == 0.5
    assert body["medianAttemptsToPass"] == 2.0  # median of [3, 1]
    assert body["uniqueSessions"] == 4
    assert body["completionRate"] == 0.25


def test_overview_counts_only_the_callers_capsules(client, owner, other, capsule):
    theirs = create(client, other)
    post(client, owner.headers, [event(capsule["id"])])
    post(client, other.headers, [event(theirs["id"]), event(theirs["id"])])
    mine = client.get(f"{BASE}/overview", headers=owner.headers).json()
    assert mine["totals"]["views"] == 1
    assert [c["capsuleId"] for c in mine["topCapsules"]] == [capsule["id"]]
    assert mine["topCapsules"][0]["title"] == capsule["title"]


def test_overview_trend_against_the_previous_period(client, owner, capsule):
    cid = capsule["id"]
    moment = lambda n: (now() - timedelta(days=n)).isoformat()  # noqa: E731
    previous = [event(cid, timestamp=moment(10)) for _ in range(4)]
    current = [event(cid, timestamp=moment(2)) for _ in range(5)]
    post(client, owner.headers, previous + current)
    query = f"?from={days_ago(6)}&to={days_ago(0)}"
    body = client.get(f"{BASE}/overview{query}", headers=owner.headers).json()
    assert body["previousRange"] == {"from": days_ago(13), "to": days_ago(7), "days": 7}
    assert (body["totals"]["views"], body["previousTotals"]["views"]) == (5, 4)
    assert body["trend"]["views"] == 0.25
    assert body["trend"]["runs"] is None  # nothing before: no ratio


def test_overview_without_capsules_is_all_zeros(client, other):
    body = client.get(f"{BASE}/overview", headers=other.headers).json()
    assert body["topCapsules"] == []
    assert set(body["totals"].values()) == {0}


class TestUsage:
    @pytest.fixture
    def test_vars(self, test_vars):
        # A finite daily cap, so the limiter keeps the daily request counter.
        return {**test_vars, "PLAN_FREE_REQUESTS_PER_DAY": "1000"}

    def test_requests_and_generations_per_day_against_plan_limits(self, client, owner):
        yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = int(yesterday.timestamp()) - 86_400
        db = client.env.db
        insert = (
            "INSERT INTO usage_counters (subject, window, window_start, count) VALUES (?, ?, ?, ?)"
        )
        rows = [(owner.id, "day", start, 42), (owner.id, "generation_day", start, 3)]
        rows.append(("usr_someone_else", "day", start, 7))
        for row in rows:
            client.run(db.prepare(insert).bind(*row).run())
        query = f"?from={days_ago(2)}&to={days_ago(0)}"
        body = client.get(f"{BASE}/usage{query}", headers=owner.headers).json()
        assert body["plan"] == "free"
        assert body["limits"] == {"requestsPerDay": 1000, "generationsPerDay": 5}
        by_day = {d["date"]: d for d in body["daily"]}
        assert by_day[days_ago(2)] == {"date": days_ago(2), "apiRequests": 0, "generations": 0}
        assert by_day[days_ago(1)] == {"date": days_ago(1), "apiRequests": 42, "generations": 3}
        assert by_day[days_ago(0)]["apiRequests"] >= 1  # this very request is counted
        assert body["totals"]["generations"] == 3


def test_usage_without_a_daily_request_cap_reports_null_requests(client, owner):
    body = client.get(f"{BASE}/usage", headers=owner.headers).json()
    assert body["limits"]["requestsPerDay"] is None  # lifted in this suite's vars
    assert {d["apiRequests"] for d in body["daily"]} == {None}
    assert len(body["daily"]) == 30
