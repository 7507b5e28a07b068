"""The scheduled job as a whole: every task runs, one failing does not stop the others."""

from devcapsules import maintenance
from devcapsules.logs import Logger
from tests.support.auth import register
from tests.support.faults import FailingD1

OLD = "2001-01-01T00:00:00.000Z"


def seed_old_event(client) -> None:
    client.run(
        client.env.db.prepare(
            "INSERT INTO analytics_events (capsule_id, event_id, type, session_id, occurred_at,"
            " received_at) VALUES ('cap_x', 'e1', 'capsule_view', 's', ?, ?)"
        )
        .bind(OLD, OLD)
        .run()
    )


def seed_unsent_job(client) -> str:
    account = register(client)
    client.run(
        client.env.db.prepare(
            "INSERT INTO generation_jobs (id, user_id, prompt, language, difficulty, created_at,"
            " updated_at) VALUES ('gen_1_deadbeef', ?, 'reverse a string', 'python', 'easy', ?, ?)"
        )
        .bind(account.id, OLD, OLD)
        .run()
    )
    return "gen_1_deadbeef"


def count(client, sql: str) -> int:
    return client.run(client.env.db.prepare(sql).first("n"))


def test_run_scheduled_prunes_events_and_resends_unsent_jobs(client, app, logs):
    seed_old_event(client)
    job_id = seed_unsent_job(client)
    summary = client.run(
        maintenance.run_scheduled(
            client.env, app.settings, "*/10 * * * *", Logger(sink=logs), clock=app.deps.clock
        )
    )
    assert summary["analyticsEventsPruned"] == 1
    assert summary["generationJobsResent"] == 1
    assert count(client, "SELECT count(*) AS n FROM analytics_events") == 0
    enqueued = client.run(
        client.env.db.prepare("SELECT enqueued_at FROM generation_jobs WHERE id = ?")
        .bind(job_id)
        .first("enqueued_at")
    )
    assert enqueued is not None
    assert "counters_pruned" in logs.actions()


def test_a_failing_task_does_not_stop_the_others(client, app, logs):
    client.env.db = FailingD1(client.env.db, r"DELETE FROM analytics_events", "analytics down")
    job_id = seed_unsent_job(client)
    summary = client.run(
        maintenance.run_scheduled(
            client.env, app.settings, "", Logger(sink=logs), clock=app.deps.clock
        )
    )
    assert summary["analyticsEventsPruned"] is None
    assert summary["generationJobsResent"] == 1 and job_id
    failed = [line for line in logs.lines if line["action"] == "maintenance_task_failed"]
    assert failed[0]["task"] == "analytics" and "analytics down" in failed[0]["error"]
