"""Generation intake: accepting a job and the job's quota charge, as one unit.

This module is the generation feature's ONE owner of the daily quota (`services.quota`):
`accept` charges it, `refund_failure` gives it back. Nothing else in the package charges
or refunds, so "charged once, refunded at most once, and only for our failures" is
decided here.

`accept(ctx, order, key)` for the caller (`ctx.principal`):
1. Replay: an Idempotency-Key already used by this caller answers its job (same request)
   or raises 422 `idempotency_key_reused` (another request). No charge, no insert.
2. Charge, keyed by the new job id (a quota refusal is a 429 and writes no job).
3. Insert the job row (queued, not yet enqueued). If the insert raises, the charge is
   refunded and the error propagates; if a concurrent request with the same key won the
   insert, the charge is refunded and that request's job is replayed.
4. Enqueue. A queue refusal is logged (`generation_enqueue_deferred`), NOT refunded and
   not the client's error: the row is durable and the recovery sweep
   (`dispatch.resend_unsent_jobs`) sends it.

`refund_failure(ctx, job_id, code)` is the consumer's side: a failed job is refunded unless
the request itself caused the failure (`USER_CAUSED`); `quota.refund_generation` makes a
repeat (redelivery, dead letter after a failure) a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from devcapsules.context import Context
from devcapsules.errors import InvalidInput
from devcapsules.services import quota
from devcapsules.services.generation import dispatch, jobs

# Failures the request itself caused keep their charge; every other failure is ours
# (provider down, bad model output, dead-lettered) and is refunded.
USER_CAUSED = frozenset({"content_filtered", "model_refused"})


@dataclass(frozen=True)
class Order:
    """What the caller asked to generate (the validated request body)."""

    prompt: str
    language: str
    difficulty: str

    @property
    def digest(self) -> str:
        return jobs.request_hash(self.prompt, self.language, self.difficulty)


@dataclass(frozen=True)
class Accepted:
    """The caller's job; `replayed` when an Idempotency-Key returned an existing one."""

    job: jobs.Job
    replayed: bool = False


async def accept(ctx: Context, order: Order, idempotency_key: str | None) -> Accepted:
    """Charge, insert and enqueue one job for `ctx.principal`, or replay its key's job."""
    db, user_id = ctx.env.db, ctx.principal.user_id
    if idempotency_key and (
        found := await jobs.find_by_idempotency_key(db, user_id, idempotency_key)
    ):
        return _replay(found, order)
    job = await _charged_insert(ctx, order, idempotency_key)
    if job is None:  # a concurrent request with the same key won the insert
        winner = await jobs.find_by_idempotency_key(db, user_id, idempotency_key or "")
        assert winner is not None  # its insert committed before ours conflicted
        return _replay(winner, order)
    await _enqueue(ctx, job)
    return Accepted(job)


async def refund_failure(ctx: Context, job_id: str, code: str) -> bool:
    """Refund a failed job's charge unless the request caused the failure; True if this
    call refunded (at most once per job, however often it is called)."""
    if code in USER_CAUSED:
        return False
    return await quota.refund_generation(ctx, job_id)


def _replay(job: jobs.Job, order: Order) -> Accepted:
    """Same key + same request: the same job. Same key + another request: a client bug."""
    if job.request_hash != order.digest:
        raise InvalidInput(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body",
            details={"jobId": job.id},
        )
    return Accepted(job, replayed=True)


async def _charged_insert(ctx: Context, order: Order, key: str | None) -> jobs.Job | None:
    """The new job's row, charged; None (and refunded) if the key was taken meanwhile.
    Charged first, keyed by the job id, so a refusal writes no job at all."""
    principal = ctx.principal
    job_id = jobs.new_job_id(ctx.deps.clock.now(), ctx.deps.ids)
    await quota.consume_generation(ctx, principal.user_id, principal.plan, job_id)
    try:
        job = await jobs.insert(
            ctx.env.db,
            job_id=job_id,
            user_id=principal.user_id,
            prompt=order.prompt,
            language=order.language,
            difficulty=order.difficulty,
            api_key_id=principal.api_key_id,
            idempotency_key=key,
            now=ctx.deps.clock.now(),
        )
    except Exception:
        await quota.refund_generation(ctx, job_id)  # no job, no charge
        raise
    if job is None:
        await quota.refund_generation(ctx, job_id)
    return job


async def _enqueue(ctx: Context, job: jobs.Job) -> None:
    try:
        await dispatch.enqueue(ctx.env, job.id, ctx.deps.clock)
    except Exception as exc:
        # The row is durable and unsent: the recovery sweep sends it. The client's job
        # is accepted either way, so this is not the client's error (and not refunded).
        ctx.logger.error("generation_enqueue_deferred", jobId=job.id, error=str(exc))
    ctx.logger.info("generation_queued", jobId=job.id, userId=job.user_id)
