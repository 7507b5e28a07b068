"""services.generation.intake: charge, insert, enqueue and refund as one unit.

Every path is checked against the quota's own tables (usage_counters, quota_charges),
and refunds are counted at `quota.refund_generation`, the one place that gives one back.
"""

from __future__ import annotations

import pytest

from devcapsules.bindings.protocols import D1Error
from devcapsules.context import Principal
from devcapsules.errors import DomainError
from devcapsules.services import quota
from devcapsules.services.generation import dispatch, intake, jobs
from tests.support.auth import register

ORDER = intake.Order("Reverse a string", "python", "easy")
UNKNOWN = intake.Order("Build a distributed database", "python", "easy")  # not in the catalog


@pytest.fixture
def account(client):
    return register(client)  # free plan: 5 generations a day


@pytest.fixture
def ctx(app, env, account):
    ctx = app.context(env)
    ctx.principal = Principal(account.id, account.plan)
    return ctx


@pytest.fixture
def refunds(monkeypatch):
    """Every call of quota.refund_generation, with whether it refunded."""
    calls: list[tuple[str, bool]] = []
    real = quota.refund_generation

    async def counted(ctx, job_id):
        refunded = await real(ctx, job_id)
        calls.append((job_id, refunded))
        return refunded

    monkeypatch.setattr(quota, "refund_generation", counted)
    return calls


def used(client, account) -> int:
    sql = "SELECT COALESCE(SUM(count), 0) AS n FROM usage_counters WHERE subject = ?"
    sql += " AND window = 'generation_day'"
    return client.run(client.env.db.prepare(sql).bind(account.id).first())["n"]


def charges(client, account) -> list[tuple[str, bool]]:
    """(job id, refunded) of every charge the user has."""
    sql = "SELECT job_id, refunded_at FROM quota_charges WHERE subject = ? ORDER BY job_id"
    rows = client.run(client.env.db.prepare(sql).bind(account.id).all())["results"]
    return [(row["job_id"], row["refunded_at"] is not None) for row in rows]


def job_count(client, account) -> int:
    sql = "SELECT COUNT(*) AS n FROM generation_jobs WHERE user_id = ?"
    return client.run(client.env.db.prepare(sql).bind(account.id).first())["n"]


def test_accept_charges_inserts_and_enqueues_one_job(client, ctx, account, queue):
    accepted = client.run(intake.accept(ctx, ORDER, None))
    assert not accepted.replayed and accepted.job.status == "queued"
    assert charges(client, account) == [(accepted.job.id, False)]
    assert used(client, account) == 1 and queue.pending() == 1
    assert client.run(jobs.get(client.env.db, accepted.job.id)).enqueued_at is not None


def test_a_replayed_key_answers_its_job_without_a_charge(client, ctx, account, queue):
    first = client.run(intake.accept(ctx, ORDER, "k-1"))
    again = client.run(intake.accept(ctx, ORDER, "k-1"))
    assert again.replayed and again.job.id == first.job.id
    assert used(client, account) == 1 and queue.pending() == 1
    with pytest.raises(DomainError) as refused:
        client.run(intake.accept(ctx, UNKNOWN, "k-1"))
    assert refused.value.status == 422 and refused.value.code == "idempotency_key_reused"
    assert used(client, account) == 1 and job_count(client, account) == 1


def test_a_quota_refusal_writes_no_job_and_refunds_nothing(client, ctx, account, refunds):
    for _ in range(5):
        client.run(intake.accept(ctx, ORDER, None))
    with pytest.raises(DomainError) as refused:
        client.run(intake.accept(ctx, ORDER, None))
    assert refused.value.code == "generation_quota_exceeded"
    assert job_count(client, account) == 5 and len(charges(client, account)) == 5
    assert refunds == []


def test_a_failed_insert_is_refunded_exactly_once(client, ctx, account, refunds, monkeypatch):
    async def broken_insert(*args, **kwargs):
        raise D1Error("D1_ERROR: database is locked: SQLITE_BUSY")

    monkeypatch.setattr(jobs, "insert", broken_insert)
    with pytest.raises(D1Error):
        client.run(intake.accept(ctx, ORDER, None))
    [(job_id, refunded)] = charges(client, account)
    assert refunded and refunds == [(job_id, True)]
    assert used(client, account) == 0 and job_count(client, account) == 0


def test_a_lost_insert_race_refunds_the_loser_and_replays_the_winner(
    client, ctx, account, refunds, monkeypatch
):
    winner = client.run(intake.accept(ctx, ORDER, "k-race"))
    real_find = jobs.find_by_idempotency_key
    looks: list[str] = []

    async def not_yet_visible(db, user_id, key):
        # The first look happens before the concurrent request's insert committed.
        looks.append(key)
        return None if len(looks) == 1 else await real_find(db, user_id, key)

    monkeypatch.setattr(jobs, "find_by_idempotency_key", not_yet_visible)
    loser = client.run(intake.accept(ctx, ORDER, "k-race"))
    assert loser.replayed and loser.job.id == winner.job.id
    [(loser_charge, refunded)] = [c for c in charges(client, account) if c[0] != winner.job.id]
    assert refunded and refunds == [(loser_charge, True)]
    assert used(client, account) == 1 and job_count(client, account) == 1


def test_a_queue_refusal_keeps_job_and_charge_and_a_later_failure_refunds_once(
    client, ctx, account, refunds, queue, logs, monkeypatch
):
    async def refused(*args, **kwargs):
        raise RuntimeError("queue unavailable")

    real_send = client.env.generation_queue.send
    monkeypatch.setattr(client.env.generation_queue, "send", refused)
    accepted = client.run(intake.accept(ctx, UNKNOWN, None))  # accepted: the row is durable
    assert "generation_enqueue_deferred" in logs.actions()
    assert client.run(jobs.get(client.env.db, accepted.job.id)).enqueued_at is None
    assert used(client, account) == 1 and refunds == [] and queue.pending() == 0

    monkeypatch.setattr(client.env.generation_queue, "send", real_send)
    assert (
        client.run(
            dispatch.resend_unsent_jobs(client.env, client.app.deps.clock, older_than_seconds=0)
        )
        == 1
    )
    queue.deliver()  # no catalog match: the job fails for our reasons, refunded
    assert client.run(jobs.get(client.env.db, accepted.job.id)).status == "failed"
    # Redelivery of the same job (and a dead letter for it) refund nothing more.
    client.run(dispatch.enqueue(client.env, accepted.job.id, client.app.deps.clock))
    queue.deliver()
    assert refunds == [(accepted.job.id, True)]
    assert used(client, account) == 0


def test_refund_failure_spares_what_the_request_caused_and_refunds_at_most_once(
    client, ctx, account
):
    job = client.run(intake.accept(ctx, ORDER, None)).job
    assert not client.run(intake.refund_failure(ctx, job.id, "content_filtered"))
    assert used(client, account) == 1
    assert client.run(intake.refund_failure(ctx, job.id, "provider_unavailable"))
    assert not client.run(intake.refund_failure(ctx, job.id, "dead_lettered"))
    assert used(client, account) == 0 and charges(client, account) == [(job.id, True)]
