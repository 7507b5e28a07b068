"""The queue consumers: `generation-jobs` (do the work) and `generation-dlq` (give up).

Delivery is at-least-once, so every decision is made against the job row, never the
message alone:
- a message whose job is completed or failed is acked (a redelivery creates no second
  capsule); a job leased by another delivery is retried after that lease runs out;
- transient errors (429 honouring Retry-After, 5xx, timeouts, executor down) release the
  job and `retry` the message with a growing delay; after `max_retries` the platform
  moves it to the DLQ, whose consumer fails the job with the reason and refunds quota
  (every refund goes through `intake.refund_failure`, the package's one quota owner);
- permanent errors (content filter, invalid request, no valid capsule after the
  attempts) fail the job and ack;
- an unexpected exception in one message retries that message only; a crash of the
  whole invocation leaves every unacked message to be redelivered, and the lease (short,
  renewed by a heartbeat while the work runs, so it expires soon after a crash) lets the
  redelivery take the job over. No job is lost either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

from devcapsules.bindings.protocols import Message, MessageBatch
from devcapsules.context import Context
from devcapsules.services.generation import intake, jobs, pipeline, wiring
from devcapsules.services.generation.providers import http_client
from devcapsules.services.generation.providers.base import (
    GenerationRequest,
    PermanentProviderError,
    Provider,
    TransientProviderError,
)

BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 15 * 60
QUEUE_MAX_DELAY_SECONDS = 12 * 60 * 60


def retry_delay(attempts: int, retry_after: float | None = None) -> int:
    """10 s, 20 s, 40 s ... (capped at 15 min), and never sooner than the server asked."""
    backoff = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    wanted = math.ceil(retry_after) if retry_after else 0
    return min(max(backoff, wanted), QUEUE_MAX_DELAY_SECONDS)


def job_id_of(message: Message) -> str | None:
    body = message.body
    job_id = body.get("jobId") if isinstance(body, dict) else None
    return job_id if isinstance(job_id, str) and job_id.startswith("gen_") else None


async def fail_job(ctx: Context, job: jobs.Job, code: str, reason: str, *, fenced=True) -> bool:
    """Mark failed, refund the quota (`intake.refund_failure`: once, and not for failures
    the prompt caused), log `generation_failed`. False if the job was already final."""
    if not await jobs.fail(ctx.env.db, job, code, reason, fenced=fenced, now=ctx.deps.clock.now()):
        return False
    refunded = await intake.refund_failure(ctx, job.id, code)
    ctx.logger.error(
        "generation_failed",
        jobId=job.id,
        userId=job.user_id,
        errorCode=code,
        reason=reason[:500],
        provider=job.provider,
        attempts=job.attempts,
        quotaRefunded=refunded,
    )
    return True


@contextlib.asynccontextmanager
async def lease_heartbeat(ctx: Context, job: jobs.Job, lease_seconds: int) -> AsyncIterator[None]:
    """Renew the job's lease every third of it while the body runs: a live delivery keeps
    its job however long the model takes, a dead one loses it within one lease."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                if not await jobs.renew(ctx.env.db, job, lease_seconds, now=ctx.deps.clock.now()):
                    # Finished meanwhile, or taken over: the fence keeps this delivery's
                    # writes out either way.
                    ctx.logger.info("generation_lease_not_renewed", jobId=job.id)
                    return
            except Exception as exc:  # a missed beat is retried; the lease has slack
                ctx.logger.warn("generation_lease_renew_failed", jobId=job.id, error=str(exc))

    task = asyncio.ensure_future(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class JobWorker:
    """Processes one message at a time; shared by the batch's concurrent tasks."""

    def __init__(self, ctx: Context, config: Any, provider: Provider, runner: Any):
        self.ctx, self.config, self.provider, self.runner = ctx, config, provider, runner
        self.db = ctx.env.db

    async def handle(self, message: Message) -> None:
        job_id = job_id_of(message)
        if job_id is None:
            # Poison: retrying cannot make it readable.
            self.ctx.logger.warn("generation_message_invalid", messageId=message.id)
            message.ack()
            return
        try:
            await self._take(message, job_id)
        except Exception as exc:
            self.ctx.logger.error(
                "generation_job_crashed", jobId=job_id, error=f"{type(exc).__name__}: {exc}"
            )
            message.retry(delay_seconds=retry_delay(message.attempts))

    async def _take(self, message: Message, job_id: str) -> None:
        lease, now = self.config.lease_seconds, self.ctx.deps.clock.now()
        claim = await jobs.claim(self.db, job_id, self.provider.name, lease, now=now)
        if claim.outcome == "claimed":
            async with lease_heartbeat(self.ctx, claim.job, self.config.lease_seconds):
                await self._run(message, claim.job)
        elif claim.outcome == "leased":
            self.ctx.logger.info("generation_job_busy", jobId=job_id, retryIn=claim.retry_after)
            message.retry(delay_seconds=claim.retry_after)
        else:  # finished already (a redelivery), or gone with its user
            self.ctx.logger.info("generation_redelivery_acked", jobId=job_id, why=claim.outcome)
            message.ack()

    async def _run(self, message: Message, job: jobs.Job) -> None:
        started = self.ctx.deps.clock.monotonic()
        try:
            outcome = await self._generate(job)
            await self._finish(
                message, job, outcome, int((self.ctx.deps.clock.monotonic() - started) * 1000)
            )
        except TransientProviderError as exc:
            await self._retry_later(message, job, exc.code, exc.message, exc.retry_after)
            return
        except PermanentProviderError as exc:
            await fail_job(self.ctx, job, exc.code, exc.message)
            message.ack()
            return
        except Exception as exc:
            # Give the job back at once (no waiting for the lease); the message is retried.
            # The owner sees a fixed message; the details (maybe internal) go to the log.
            self.ctx.logger.error(
                "generation_attempt_crashed", jobId=job.id, error=f"{type(exc).__name__}: {exc}"
            )
            await jobs.release(
                self.db,
                job,
                "internal_error",
                "An internal error occurred; retrying",
                now=self.ctx.deps.clock.now(),
            )
            raise

    async def _generate(self, job: jobs.Job) -> pipeline.Outcome:
        async def on_stage(stage: str) -> None:
            await jobs.set_stage(self.db, job, stage, now=self.ctx.deps.clock.now())

        request = GenerationRequest(job.prompt, job.language, job.difficulty)
        return await pipeline.generate_verified(
            self.provider,
            request,
            self.runner,
            max_attempts=self.config.max_model_attempts,
            min_quality=self.config.min_quality,
            on_stage=on_stage,
        )

    async def _retry_later(
        self, message: Message, job: jobs.Job, code: str, reason: str, after: float | None
    ) -> None:
        await jobs.release(self.db, job, code, reason, now=self.ctx.deps.clock.now())
        delay = retry_delay(message.attempts, after)
        self.ctx.logger.warn(
            "generation_retry", jobId=job.id, errorCode=code, reason=reason[:300], delay=delay
        )
        message.retry(delay_seconds=delay)

    async def _finish(
        self, message: Message, job: jobs.Job, outcome: pipeline.Outcome, elapsed_ms: int
    ) -> None:
        best = outcome.best
        if not best.valid:
            code = "verification_failed" if best.capsule else "invalid_model_output"
            summary = "; ".join(best.problems[:5]) or "no valid capsule"
            await fail_job(self.ctx, job, code, f"After {outcome.model_calls} attempts: {summary}")
            message.ack()
            return
        await jobs.set_stage(self.db, job, "saving", now=self.ctx.deps.clock.now())
        assert best.content is not None  # a valid candidate parsed
        capsule_id = await wiring.save_capsule(self.ctx, job, best.content, best.score, elapsed_ms)
        if capsule_id is None:
            self.ctx.logger.warn("generation_lease_lost", jobId=job.id)
        else:
            self.ctx.logger.info(
                "generation_complete",
                jobId=job.id,
                qualityScore=best.score,
                generationTime=elapsed_ms,
                capsuleId=capsule_id,
                provider=self.provider.name,
                modelCalls=outcome.model_calls,
            )
        message.ack()


async def consume_generation_batch(batch: MessageBatch, ctx: Context) -> None:
    """`generation-jobs`: the batch's messages concurrently, at most `concurrency` at once."""
    config = ctx.settings.generation
    limit = asyncio.Semaphore(config.concurrency)
    async with http_client(config) as client:
        provider = ctx.deps.model_provider(config, client)
        worker = JobWorker(ctx, config, provider, wiring.test_runner(ctx))

        async def one(message: Message) -> None:
            async with limit:
                await worker.handle(message)

        await asyncio.gather(*(one(message) for message in batch.messages))


async def consume_dead_letters(batch: MessageBatch, ctx: Context) -> None:
    """`generation-dlq`: the job's deliveries were exhausted; fail it with the last error.

    Every dead letter leaves a `generation_dead_letter` log line saying what became of it
    (failed now, already final, or naming no job we know), so none vanishes unrecorded.
    """
    for message in batch.messages:
        job_id = job_id_of(message)
        try:
            outcome = await _dead_letter(ctx, job_id)
            ctx.logger.error(
                "generation_dead_letter", jobId=job_id, outcome=outcome, attempts=message.attempts
            )
            message.ack()
        except Exception as exc:
            ctx.logger.error(
                "generation_dlq_failed", jobId=job_id, error=str(exc), attempts=message.attempts
            )
            message.retry(delay_seconds=retry_delay(message.attempts))


async def _dead_letter(ctx: Context, job_id: str | None) -> str:
    job = await jobs.get(ctx.env.db, job_id) if job_id else None
    if job is None:
        return "unknown_job"
    if job.is_terminal:
        return "already_final"
    last = f"; last error: {job.error_code}: {job.error_message}" if job.error_code else ""
    reason = f"Gave up after {job.attempts} delivery attempts{last}"
    failed = await fail_job(ctx, job, "dead_lettered", reason, fenced=False)
    return "failed" if failed else "already_final"
