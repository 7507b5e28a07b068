"""Pruning old counter rows: what is kept, what goes, and that a run is bounded."""

from __future__ import annotations

import asyncio

from devcapsules import maintenance
from devcapsules.logs import Logger
from tests.limits.conftest import NOON

HOUR, DAY = 3600, 86_400
MIDNIGHT = NOON - NOON % DAY


def insert_counter(client, subject, window, start, count=1):
    client.run(
        client.env.db.prepare(
            "INSERT INTO usage_counters (subject, window, window_start, count) VALUES (?, ?, ?, ?)"
        )
        .bind(subject, window, start, count)
        .run()
    )


def insert_charge(client, job_id, day):
    client.run(
        client.env.db.prepare(
            "INSERT INTO quota_charges (job_id, subject, window_start, charge_token, charged_at)"
            " VALUES (?, 'usr_x', ?, 't', 'then')"
        )
        .bind(job_id, day)
        .run()
    )


def remaining(client, table="usage_counters", column="window"):
    sql = f"SELECT {column} AS k, window_start AS s FROM {table} ORDER BY s"
    return [(r["k"], r["s"]) for r in client.run(client.env.db.prepare(sql).all())["results"]]


def run(client, app):
    return client.run(
        maintenance.run_scheduled(client.env, app.settings, "17 * * * *", clock=app.deps.clock)
    )


def test_prunes_by_window_retention(client, app):
    minute_now = NOON - NOON % 60
    insert_counter(client, "u", "minute", minute_now)  # current: kept
    insert_counter(client, "u", "minute", minute_now - HOUR)  # within 2 h: kept
    insert_counter(client, "u", "minute", minute_now - 3 * HOUR)  # gone
    insert_counter(client, "u", "day", MIDNIGHT - 30 * DAY)  # a month of usage history: kept
    insert_counter(client, "u", "day", MIDNIGHT - 40 * DAY)  # gone
    insert_counter(client, "u", "generation_day", MIDNIGHT - 30 * DAY)  # kept (history)
    insert_counter(client, "u", "generation_day", MIDNIGHT - 40 * DAY)  # gone
    insert_charge(client, "gen_recent", MIDNIGHT - 30 * DAY)
    insert_charge(client, "gen_old", MIDNIGHT - 40 * DAY)
    summary = run(client, app)
    assert summary["deleted"] == {"minute": 1, "day": 1, "generation_day": 1, "quota_charges": 1}
    assert summary["complete"] is True
    assert remaining(client) == [
        ("day", MIDNIGHT - 30 * DAY),
        ("generation_day", MIDNIGHT - 30 * DAY),
        ("minute", minute_now - HOUR),
        ("minute", minute_now),
    ]
    assert remaining(client, "quota_charges", "job_id") == [("gen_recent", MIDNIGHT - 30 * DAY)]


def test_a_run_is_bounded_and_later_runs_finish(client, app, monkeypatch):
    monkeypatch.setattr(maintenance, "BATCH_ROWS", 3)
    monkeypatch.setattr(maintenance, "MAX_STATEMENTS", 3)
    for i in range(10):
        insert_counter(client, f"ip:{i}", "day", MIDNIGHT - 40 * DAY)
    runs = [run(client, app)]
    while not runs[-1]["complete"] and len(runs) < 10:
        runs.append(run(client, app))
    deleted = [sum(summary["deleted"].values()) for summary in runs]
    # Each run issues at most 3 statements of at most 3 rows (one went to the minute window).
    assert deleted[0] == 6 and runs[0]["complete"] is False
    assert all(n <= 9 for n in deleted) and sum(deleted) == 10
    assert remaining(client) == []


def test_run_is_logged(client, app, logs):
    client.run(
        maintenance.run_scheduled(
            client.env, app.settings, "cron", Logger(sink=logs), clock=app.deps.clock
        )
    )
    assert "counters_pruned" in logs.actions()


def test_local_periodic_task_runs_until_stopped(client, app, logs):
    interval = 0.01

    async def body():
        stop = asyncio.Event()
        task = asyncio.create_task(
            maintenance.run_periodically(
                client.env, app.settings, stop, Logger(sink=logs), app.deps.clock, interval
            )
        )

        # Wait for two runs rather than a fixed time: under load (Miniflare's D1 on a busy
        # machine) one run can take longer than any sleep we would pick.
        async def two_runs():
            while logs.actions().count("counters_pruned") < 2:
                await asyncio.sleep(interval)

        await asyncio.wait_for(two_runs(), timeout=60)
        stop.set()
        await asyncio.wait_for(task, timeout=60)

    client.run(body())
    assert logs.actions().count("counters_pruned") >= 2
