"""Handing jobs to the queue, crash-safely.

Order: (1) INSERT the job with `enqueued_at` NULL, (2) send the message, (3) set
`enqueued_at`. A crash or a queue error after (1) leaves a queued row without a message:
`resend_unsent_jobs` (the scheduled maintenance hook, and the local host periodically)
sends it. A crash after (2) but before (3) means the sweep may send a second message
for the same job, which the idempotent consumer absorbs (one capsule per job).
"""

from __future__ import annotations

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import QUEUE_MAX_BATCH_MESSAGES
from devcapsules.logs import Logger
from devcapsules.services.clock import Clock
from devcapsules.services.generation import jobs


def message_body(job_id: str) -> dict[str, object]:
    # Only the id travels: the row is the truth, and the message stays far below 128 KB.
    return {"jobId": job_id, "v": 1}


async def enqueue(env: Env, job_id: str, clock: Clock) -> None:
    """Send and mark. Raises if the queue refuses; the row then waits for the sweep."""
    await env.generation_queue.send(message_body(job_id))
    await jobs.mark_enqueued(env.db, [job_id], now=clock.now())


async def resend_unsent_jobs(
    env: Env,
    clock: Clock,
    *,
    older_than_seconds: float = 60,
    limit: int = QUEUE_MAX_BATCH_MESSAGES,
    logger: Logger | None = None,
) -> int:
    """Send queued jobs whose message never reached the queue; returns how many were sent.

    `older_than_seconds` leaves alone rows whose request is still between its insert and
    its send, so a normal request is not sent twice.
    """
    unsent = await jobs.find_unsent(
        env.db, older_than_seconds=older_than_seconds, limit=limit, now=clock.now()
    )
    if not unsent:
        return 0
    await env.generation_queue.send_batch([{"body": message_body(job.id)} for job in unsent])
    await jobs.mark_enqueued(env.db, [job.id for job in unsent], now=clock.now())
    if logger is not None:
        logger.warn("generation_jobs_resent", count=len(unsent), jobIds=[j.id for j in unsent])
    return len(unsent)
