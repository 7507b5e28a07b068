"""KV caching and its staleness, retention pruning, the SVG chart, server-side events."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from devcapsules.context import Principal
from devcapsules.services.analytics import prune as prune_module
from devcapsules.services.analytics.ingest import ingest, record_execution_event
from devcapsules.services.analytics.options import analytics_options
from devcapsules.services.analytics.prune import prune_events
from devcapsules.settings import Settings, SettingsError
from tests.analytics.support import event, now, post, report_url
from tests.capsules.support import create

SVG = "{http://www.w3.org/2000/svg}"


class FakeClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kv_clock(client) -> FakeClock:
    clock = FakeClock(now().timestamp())
    client.env.kv.clock = clock
    return clock


def views(client, owner, capsule_id, **range_args) -> tuple[int, str]:
    response = client.get(report_url(capsule_id, **range_args), headers=owner.headers)
    client.settle()  # the cache write runs after the response (wait_until)
    return response.json()["views"], response.headers["x-analytics-cache"]


@pytest.mark.sqlite_only  # moves the local KV's clock past the TTL
def test_a_cached_report_is_served_until_its_ttl_then_recomputed(client, owner, capsule, kv_clock):
    cid = capsule["id"]
    post(client, owner.headers, [event(cid)])
    assert views(client, owner, cid) == (1, "miss")
    post(client, owner.headers, [event(cid)])
    kv_clock.now += 59
    assert views(client, owner, cid) == (1, "hit")  # stale by design, within the TTL
    kv_clock.now += 2
    assert views(client, owner, cid) == (2, "miss")
    assert views(client, owner, cid) == (2, "hit")


def test_the_cache_key_includes_the_range(client, owner, capsule, kv_clock):
    cid = capsule["id"]
    today = now().date()
    assert views(client, owner, cid)[1] == "miss"
    other_range = {"start": str(today - timedelta(days=3)), "end": str(today)}
    assert views(client, owner, cid, **other_range)[1] == "miss"
    assert views(client, owner, cid, **other_range)[1] == "hit"


def test_a_cached_report_still_checks_ownership(client, owner, other, capsule, kv_clock):
    views(client, owner, capsule["id"])
    assert client.get(report_url(capsule["id"]), headers=other.headers).status == 404


def test_overview_is_cached_too(client, owner, capsule, kv_clock):
    first = client.get("/api/v1/analytics/overview", headers=owner.headers)
    client.settle()
    post(client, owner.headers, [event(capsule["id"])])
    second = client.get("/api/v1/analytics/overview", headers=owner.headers)
    assert second.headers["x-analytics-cache"] == "hit"
    assert second.json() == first.json()


def test_cache_ttl_below_kv_minimum_is_refused():
    with pytest.raises(SettingsError):
        Settings.from_vars({"ANALYTICS_CACHE_TTL": "30"})
    assert analytics_options({"ANALYTICS_CACHE_TTL": "300"}).cache_ttl == 300


def ingest_at(client, owner, moment, items):
    principal = Principal(user_id=owner.id, plan="free")
    options = client.app.settings.analytics
    return client.run(ingest(client.env.db, options, principal, items, moment))


def count(client, sql: str) -> int:
    return client.run(client.env.db.prepare(sql).first("n"))


def test_pruning_drops_old_raw_events_and_keeps_rollups(client, owner, capsule, monkeypatch):
    cid = capsule["id"]
    past = now() - timedelta(days=100)
    old = [event(cid, timestamp=(past - timedelta(hours=1)).isoformat()) for _ in range(5)]
    assert ingest_at(client, owner, past, old).accepted == 5  # received 100 days ago
    post(client, owner.headers, [event(cid)])
    monkeypatch.setattr(prune_module, "CHUNK", 2)  # exercise the chunked loop
    assert client.run(prune_events(client.env, now(), 90)) == 5
    assert count(client, "SELECT count(*) AS n FROM analytics_events") == 1
    assert count(client, "SELECT sum(views) AS n FROM analytics_daily") == 6
    start = (past - timedelta(days=1)).date()
    report = client.get(report_url(cid, str(start), str(now().date())), headers=owner.headers)
    assert report.json()["views"] == 6
    resent = post(client, owner.headers, old[:1]).json()
    assert resent["rejected"][0]["code"] == "timestamp_too_old"  # never counted twice


def test_pruning_keeps_events_inside_retention(client, owner, capsule):
    post(
        client,
        owner.headers,
        [event(capsule["id"], timestamp=(now() - timedelta(days=80)).isoformat())],
    )
    assert client.run(prune_events(client.env, now(), 90)) == 0


def chart(client, owner, capsule_id, start, end):
    path = f"/api/v1/analytics/capsules/{capsule_id}/chart.svg?from={start}&to={end}"
    return client.get(path, headers=owner.headers)


@pytest.mark.parametrize("days", [1, 7, 90])
def test_chart_is_well_formed_svg_with_one_point_per_day_per_series(client, owner, days):
    capsule = create(client, owner, title='Sums <&> "quotes"')
    post(client, owner.headers, [event(capsule["id"]), event(capsule["id"], "code_run")])
    end = now().date()
    response = chart(client, owner, capsule["id"], end - timedelta(days=days - 1), end)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    # Opened directly, the SVG is an image: never sniffed, no script, not frameable.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    root = ET.fromstring(response.body)
    assert root.tag == f"{SVG}svg"
    lines = {
        line.get("data-series"): line.get("points").split() for line in root.iter(f"{SVG}polyline")
    }
    assert set(lines) == {"views", "runs", "completions"}
    assert all(len(points) == days for points in lines.values())
    assert root.find(f"{SVG}title").text.startswith('Sums <&> "quotes"')
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert str(end) in labels and "0" in labels  # axis labels: dates and values


def test_chart_values_follow_the_series(client, owner, capsule):
    end = now().date()
    post(client, owner.headers, [event(capsule["id"]) for _ in range(3)])
    root = ET.fromstring(chart(client, owner, capsule["id"], end - timedelta(days=1), end).body)
    views_line = next(p for p in root.iter(f"{SVG}polyline") if p.get("data-series") == "views")
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in views_line.get("points").split())
    assert x0 < x1 and y1 < y0  # today (3 views) is drawn higher than yesterday (0)


def test_executions_are_recorded_and_deduplicated_with_widget_events(client, owner, capsule):
    cid = capsule["id"]
    recorded = client.run(
        record_execution_event(
            client.env, client.app.settings.analytics, execution_id="exe_1", capsule_id=cid,
            kind="tests", session_id=owner.id, tests_passed=3, tests_total=3, now=now(),
        )
    )  # fmt: skip
    assert recorded is True
    widget_copy = event(cid, "test_run", id="exe_1", properties={"passed": 3, "total": 3})
    assert post(client, owner.headers, [widget_copy]).json()["duplicates"] == 1
    run = dict(execution_id="exe_2", capsule_id=cid, kind="run", session_id=owner.id, now=now())
    assert (
        client.run(record_execution_event(client.env, client.app.settings.analytics, **run)) is True
    )
    missing = dict(run, execution_id="exe_3", capsule_id="cap_missing")
    assert (
        client.run(record_execution_event(client.env, client.app.settings.analytics, **missing))
        is False
    )
    body = client.get(report_url(cid), headers=owner.headers).json()
    assert (body["runs"], body["testRuns"], body["testRunsPassed"]) == (1, 1, 1)
