"""Where generation meets features other modules own: capsules and the executor.

- `save_capsule`: the draft through the capsules repository (`services.capsules.create`,
  source="generated"), then the job's completion. `create` is its own D1 batch, so the
  two writes are not one transaction: a crash between them leaves a capsule and a job
  still processing. The redelivery (after the lease) finds that capsule by its job id and
  completes the job with it instead of creating a second one.
- `test_runner`: the execution service's hybrid executor (`services.execution`).

The quota is charged and refunded by `intake` only (the package's one owner of it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.bindings.protocols import D1Error, Database
from devcapsules.context import Context, Dependencies
from devcapsules.errors import (
    DependencyFailed,
    DependencyTimeout,
    DomainError,
    Misconfigured,
    QuotaExceeded,
    Unavailable,
)
from devcapsules.schemas.capsules import CapsuleContent
from devcapsules.schemas.execution import SuiteResult
from devcapsules.services import capsules
from devcapsules.services.generation import jobs
from devcapsules.services.generation.providers.base import ExecutorUnavailable

TestRunner = Callable[[list[str], list[dict], str, str], Awaitable[list[SuiteResult]]]


async def _create_once(
    db: Database, job: jobs.Job, content: CapsuleContent, score: float, deps: Dependencies
) -> str:
    """Create the job's capsule; if an overlapping delivery created it first, the unique
    index on generation_job_id refuses ours and we reuse theirs."""
    try:
        created = await capsules.create(
            db,
            job.user_id,
            content,
            source="generated",
            generation_job_id=job.id,
            quality_score=score,
            capsule_id=deps.ids.new("cap"),
            now=deps.clock.now(),
        )
    except D1Error as exc:
        existing = await capsules.find_id_by_generation_job(db, job.id)
        if existing is None or "UNIQUE" not in str(exc):
            raise
        return existing
    return created.id


async def save_capsule(
    ctx: Context, job: jobs.Job, content: CapsuleContent, score: float, generation_ms: int
) -> str | None:
    """Create (or reuse) the job's draft capsule and complete the job; returns the capsule
    id, or None when this delivery's lease was lost (another one owns the job now).
    `content` is the verifier's, validated once there (`verify.Candidate.content`)."""
    db, now = ctx.env.db, ctx.deps.clock.now()
    capsule_id = await capsules.find_id_by_generation_job(db, job.id)
    if capsule_id is None:
        capsule_id = await _create_once(db, job, content, score, ctx.deps)
    result = await jobs.complete_statement(db, job, capsule_id, score, generation_ms, now=now).run()
    return capsule_id if result["meta"]["changes"] == 1 else None


# Verification runs are the service's own, not a learner's: one budget for all, the
# creator plan's defaults from the plans table (so PLAN_CREATOR_* overrides apply).
def _run_limits(ctx: Context) -> Any:
    return ctx.settings.limits.for_plan("creator").execution.clamp(None, None)


def test_runner(ctx: Context) -> TestRunner:
    """(codes, test_cases, language, function_name) -> the executor's own typed
    `SuiteResult` per code, unconverted (the verifier reads their fields).

    Runs through the execution service's hybrid executor as one batch
    (`run_tests_batch`), so the edge verifies where it runs learners' code (remote
    executor) and the local host in the sandbox library, one sandbox for both runs.
    """
    from devcapsules.schemas.execution import BatchRun
    from devcapsules.services.execution import executor_for
    from devcapsules.services.execution.local import patient

    executor = executor_for(ctx)
    limits = _run_limits(ctx)

    async def run(
        codes: list[str], cases: list[dict], language: str, function_name: str
    ) -> list[SuiteResult]:
        # Hidden flags only matter to learners; here they would hide the actual values
        # the model needs to hear about.
        visible = [{**case, "hidden": False} for case in cases]
        runs = [
            BatchRun(userCode=code, testCases=visible, functionName=function_name) for code in codes
        ]
        try:
            with patient():  # no client waits on a verification: queue, never refuse
                return await executor.run_tests_batch(runs, language, limits=limits)
        except NOT_THE_CANDIDATE as exc:
            # The job records code and message apart; the code is not repeated here.
            raise ExecutorUnavailable(exc.message, code=exc.code) from None
        except DomainError as exc:  # the candidate's code refused (language, sizes…)
            raise ValueError(f"{exc.code}: {exc.message}") from None

    return run


# Executor errors that say nothing about the candidate: the delivery is retried later.
NOT_THE_CANDIDATE = (Unavailable, DependencyFailed, DependencyTimeout, Misconfigured, QuotaExceeded)
