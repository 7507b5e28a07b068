"""Consumer robustness: leases, crashes, poison messages, environment queue names."""

from __future__ import annotations

import asyncio

from devcapsules.bindings.sqlite_queue import LocalMessage, LocalMessageBatch
from devcapsules.consumers import base_queue_name, consumers
from devcapsules.services.generation import jobs
from tests.generation.conftest import status, submit
from tests.support.faults import wrapping_provider


def expire_lease(client, job_id):
    client.run(
        client.env.db.prepare(
            "UPDATE generation_jobs SET lease_until = '2000-01-01T00:00:00.000Z' WHERE id = ?"
        )
        .bind(job_id)
        .run()
    )


def test_a_job_held_by_a_crashed_delivery_is_taken_over_after_its_lease(client, creator, queue):
    job_id = submit(client, creator)
    # A delivery claimed the job, then its isolate died (no ack, no release).
    claim = client.run(
        jobs.claim(client.env.db, job_id, "catalog", 300, now=client.app.deps.clock.now())
    )
    assert claim.outcome == "claimed"
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "processing" and queue.pending() == 1
    assert 250 < min(queue.visible_in()) <= 301  # retried when the lease runs out
    expire_lease(client, job_id)
    queue.advance(302)
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"


def test_a_delivery_that_lost_its_lease_cannot_finish(client, creator):
    job_id = submit(client, creator)
    first = client.run(
        jobs.claim(client.env.db, job_id, "catalog", 300, now=client.app.deps.clock.now())
    ).job
    expire_lease(client, job_id)
    second = client.run(
        jobs.claim(client.env.db, job_id, "catalog", 300, now=client.app.deps.clock.now())
    ).job
    stale = client.run(
        jobs.complete_statement(
            client.env.db, first, "cap_x", 0.9, 5, now=client.app.deps.clock.now()
        ).run()
    )
    assert stale["meta"]["changes"] == 0
    assert (
        client.run(jobs.fail(client.env.db, first, "x", "stale", now=client.app.deps.clock.now()))
        is False
    )
    fresh = client.run(
        jobs.complete_statement(
            client.env.db, second, "cap_y", 0.9, 5, now=client.app.deps.clock.now()
        ).run()
    )
    assert fresh["meta"]["changes"] == 1


def test_a_crash_in_one_job_loses_neither_it_nor_the_others(client, creator, queue):
    victim = submit(client, creator)
    others = [submit(client, creator, "Compute the factorial of n") for _ in range(3)]
    crashed = []

    async def flaky(request):
        if request.prompt == "Reverse a string" and not crashed:
            crashed.append(True)
            raise RuntimeError("isolate hiccup")

    client.inject(model_provider=wrapping_provider(client.app.deps.model_provider, flaky))
    queue.deliver()
    assert all(status(client, creator, j)["status"] == "completed" for j in others)
    job = status(client, creator, victim)
    assert job["status"] == "queued" and job["error"]["code"] == "internal_error"
    assert "hiccup" not in job["error"]["message"]  # internals stay in the log
    queue.advance(60)
    queue.deliver()
    assert status(client, creator, victim)["status"] == "completed"


def test_a_batch_that_raises_as_a_whole_is_redelivered(client, creator, queue):
    job_id = submit(client, creator)
    real = client.app.deps.model_provider

    def broken_provider(config, http):
        raise RuntimeError("the provider cannot be made")

    client.inject(model_provider=broken_provider)
    queue.deliver()  # the broker retries every message of a failed batch
    assert queue.pending() == 1
    client.inject(model_provider=real)
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"


def test_poison_message_is_acked(client, app, env):
    batch = LocalMessageBatch("generation-jobs", [LocalMessage("m1", {"nope": 1}, 1, 0.0)])
    client.run(app.handle_batch(batch, env))
    assert batch.messages[0].decision == ("ack", 0)


def test_staging_queue_names_reach_the_same_consumers(client, creator, app, env):
    assert base_queue_name("generation-jobs-staging") == "generation-jobs"
    registry = consumers()
    assert registry["generation-jobs-staging"] is registry["generation-jobs"]
    assert registry["generation-dlq-staging"] is registry["generation-dlq"]
    job_id = submit(client, creator)
    message = LocalMessage("m1", {"jobId": job_id, "v": 1}, 1, 0.0)
    client.run(app.handle_batch(LocalMessageBatch("generation-jobs-staging", [message]), env))
    assert message.decision == ("ack", 0)
    assert status(client, creator, job_id)["status"] == "completed"


def test_overlapping_deliveries_create_one_capsule(client, creator):
    """Two deliveries that both passed the "no capsule yet" check: the unique index
    refuses the second insert and it reuses the first capsule."""
    from devcapsules.schemas.capsules import CapsuleContent
    from devcapsules.services import capsules
    from devcapsules.services.generation import wiring

    job_id = submit(client, creator)
    job = client.run(jobs.get(client.env.db, job_id))
    content = CapsuleContent(title="Reverse", language="python")
    first = client.run(
        capsules.create(
            client.env.db,
            job.user_id,
            content,
            source="generated",
            generation_job_id=job_id,
            capsule_id=client.app.deps.ids.new("cap"),
            now=client.app.deps.clock.now(),
        )
    )
    assert (
        client.run(wiring._create_once(client.env.db, job, content, 0.9, client.app.deps))
        == first.id
    )
    count = client.run(
        client.env.db.prepare("SELECT count(*) AS n FROM capsules WHERE generation_job_id = ?")
        .bind(job_id)
        .first("n")
    )
    assert count == 1


def test_a_running_delivery_renews_its_lease(client, creator, queue):
    # A short lease: a heartbeat renews it every third while the model works.
    client.reconfigure(GENERATION_LEASE_SECONDS="5")
    job_id = submit(client, creator)
    seen = []

    async def lease() -> str:
        return (await jobs.get(client.env.db, job_id)).lease_until

    async def slow(request):
        first = await lease()
        for _ in range(500):  # waits for the renewal (an event), at most 10 s
            if (now := await lease()) != first:
                seen.append((first, now))
                break
            await asyncio.sleep(0.02)

    client.inject(model_provider=wrapping_provider(client.app.deps.model_provider, slow))
    queue.deliver()
    assert seen and seen[0][1] > seen[0][0]
    assert status(client, creator, job_id)["status"] == "completed"


def test_a_restarted_host_takes_back_its_predecessors_jobs_at_once(client, creator):
    job_id = submit(client, creator)
    claim = client.run(
        jobs.claim(
            client.env.db,
            job_id,
            "catalog",
            300,
            holder="holder_dead",
            now=client.app.deps.clock.now(),
        )
    )
    assert claim.outcome == "claimed"
    assert (
        client.run(
            jobs.release_holder(client.env.db, "holder_other", now=client.app.deps.clock.now())
        )
        == 0
    )
    assert (
        client.run(
            jobs.release_holder(client.env.db, "holder_dead", now=client.app.deps.clock.now())
        )
        == 1
    )
    # The dead holder's claim is fenced out; the job can be claimed again now, not in 300 s.
    assert (
        client.run(jobs.renew(client.env.db, claim.job, 300, now=client.app.deps.clock.now()))
        is False
    )
    again = client.run(
        jobs.claim(client.env.db, job_id, "catalog", 300, now=client.app.deps.clock.now())
    )
    assert again.outcome == "claimed" and again.job.attempts == 2
    stale = client.run(
        jobs.complete_statement(
            client.env.db, claim.job, "cap_x", 0.9, 5, now=client.app.deps.clock.now()
        ).run()
    )
    assert stale["meta"]["changes"] == 0
