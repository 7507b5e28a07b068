"""What `/execute` and `/execute/tests` do, whichever backend runs the code: cap limits
by plan, refuse oversized input, dispatch, and record the execution without waiting.

This is where a request's limits are clamped and its sizes checked, once
(`services/plans/`); every backend, the sandbox library included, takes the
resulting `RunLimits` as they are.

The record: every execution leaves a row in `executions` (who, key, capsule, language, kind,
status, duration, tests passed/total), and a run against a capsule also counts as a
`code_run`/`test_run` analytics event (event id = execution id, so a widget reporting
the same run is deduplicated). Both are handed to `ctx.wait_until`: the caller gets
the answer without waiting on D1.

A capsule's own suite (`POST /execute/tests` with `capsuleId`): whoever may read a
capsule (services/capsule_access.can_read: its owner, or anyone for a published
public/unlisted one) may run its tests, hidden ones included; the hidden expectations go
to the executor only and never into the response. Anything else is a
404, exactly like a missing capsule, so existence is not revealed.

A stored suite is bounded by the capsule schema (`TEST_CASES_MAX`), not by the caller's
plan: publishing accepts any capsule the API stored (services/solution_check), so every
learner, anonymous ones in the embed widget included, must be able to run it. Time and
memory stay the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcapsules.context import Context
from devcapsules.errors import InvalidInput, NotFound
from devcapsules.schemas.capsules import TEST_CASES_MAX
from devcapsules.schemas.execution import ExecuteRequest, RunTestsRequest
from devcapsules.services import capsule_access, capsules, clock
from devcapsules.services.analytics.ingest import record_execution_event
from devcapsules.services.clock import iso
from devcapsules.services.execution.hybrid import HybridExecutor
from devcapsules.services.plans import RunLimits


def run_limits(ctx: Context, time_limit: float | None, memory_limit: int | None) -> RunLimits:
    """The caller's plan caps applied to the client's values (the request's one clamp)."""
    return ctx.settings.limits.for_principal(ctx.principal).execution.clamp(
        time_limit, memory_limit
    )


async def run_program(
    ctx: Context, executor: HybridExecutor, body: ExecuteRequest, session_id: str | None = None
) -> dict[str, Any]:
    limits = run_limits(ctx, body.time_limit, body.memory_limit)
    limits.check_sizes(body.source_code, body.stdin)
    backend = executor.for_language(body.language)  # resolved once: it runs and is named
    started = clock.monotonic()
    result = await backend.execute(body.source_code, body.language, stdin=body.stdin, limits=limits)
    record = ExecutionRecord(
        "run",
        result.get("language") or body.language,
        result["status"],
        _ms(started),
        session_id=session_id,
    )
    execution_id = record_later(ctx, record)
    public = {"backend": backend.name, "limits": limits.public(), "executionId": execution_id}
    return {**result, **public}


async def run_suite(
    ctx: Context, executor: HybridExecutor, body: RunTestsRequest, session_id: str | None = None
) -> dict[str, Any]:
    limits = run_limits(ctx, body.time_limit, body.memory_limit)
    limits.check_sizes(body.userCode)
    cases, language, function_name = body.testCases, body.language, body.functionName
    if body.capsuleId is not None:
        suite = await load_capsule_suite(ctx, body.capsuleId)
        cases, language, function_name = suite.test_cases, suite.language, suite.function_name
        limits = capsule_suite_limits(limits)  # the capsule schema's bound, not the plan's
    assert cases is not None and language is not None  # the request model guarantees it
    limits.check_test_count(len(cases))
    backend = executor.for_language(language)
    started = clock.monotonic()
    result = await backend.run_tests(body.userCode, cases, language, function_name, limits=limits)
    summary = result.summary
    record = ExecutionRecord(
        "tests",
        result.language or language,
        summary.status,
        _ms(started),
        capsule_id=body.capsuleId,
        tests_passed=summary.passed,
        tests_total=summary.total,
        session_id=session_id,
    )
    execution_id = record_later(ctx, record)
    extra = {"backend": backend.name, "limits": limits.public(), "executionId": execution_id}
    if body.capsuleId is not None:
        extra["capsuleId"] = body.capsuleId
    return {**result.model_dump(exclude_unset=True), **extra}


def _ms(started: float) -> int:
    return int((clock.monotonic() - started) * 1000)


@dataclass(frozen=True)
class ExecutionRecord:
    kind: str  # "run" or "tests"
    language: str
    status: str
    duration_ms: int
    capsule_id: str | None = None
    tests_passed: int | None = None
    tests_total: int | None = None
    # The widget's anonymous learner session (X-Session-Id); else the caller is the session.
    session_id: str | None = None


def record_later(ctx: Context, record: ExecutionRecord) -> str:
    """Schedule the insert; returns the execution id (it goes into the response)."""
    execution_id = ctx.deps.ids.new("exe")
    principal = ctx.principal
    user_id = principal.user_id if principal else None
    api_key_id = principal.api_key_id if principal else None
    ctx.logger.info(
        "execution",
        executionId=execution_id,
        kind=record.kind,
        language=record.language,
        status=record.status,
        durationMs=record.duration_ms,
        capsuleId=record.capsule_id,
    )
    if ctx.env.db is not None:
        ctx.wait_until(_insert(ctx, execution_id, user_id, api_key_id, record))
    return execution_id


async def _insert(
    ctx: Context, execution_id: str, user_id: str | None, api_key_id: str | None, r: ExecutionRecord
) -> None:
    try:
        await (
            ctx.env.db.prepare(
                "INSERT INTO executions (id, user_id, api_key_id, capsule_id, language, kind,"
                " status, duration_ms, tests_passed, tests_total, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            .bind(
                execution_id,
                user_id,
                api_key_id,
                r.capsule_id,
                r.language,
                r.kind,
                r.status,
                r.duration_ms,
                r.tests_passed,
                r.tests_total,
                iso(ctx.deps.clock.now()),
            )
            .run()
        )
        if r.capsule_id is not None:
            await record_execution_event(
                ctx.env,
                ctx.settings.analytics,
                execution_id=execution_id,
                capsule_id=r.capsule_id,
                kind=r.kind,
                session_id=r.session_id or user_id or execution_id,
                now=ctx.deps.clock.now(),
                tests_passed=r.tests_passed,
                tests_total=r.tests_total,
            )
    except Exception as exc:  # background work: log it, never surface it
        ctx.logger.error("execution_record_failed", executionId=execution_id, error=str(exc))


@dataclass(frozen=True)
class CapsuleSuite:
    capsule_id: str
    language: str
    function_name: str | None
    test_cases: list[dict[str, Any]]


async def load_capsule_suite(ctx: Context, capsule_id: str) -> CapsuleSuite:
    capsule = await capsules.get(ctx.env.db, capsule_id)
    who = capsule_access.audience(ctx.principal)
    if capsule is None or not capsule_access.can_read(who, capsule):
        raise NotFound("not_found", "No such capsule")
    if not capsule.test_cases:
        raise InvalidInput("capsule_has_no_tests", f"Capsule {capsule_id} has no test cases")
    return CapsuleSuite(
        capsule.id, capsule.language, capsule.function_name, list(capsule.test_cases)
    )


def capsule_suite_limits(limits: RunLimits) -> RunLimits:
    """The caller's run limits, with the test-case cap raised to what a capsule may hold:
    both for the count check and for the limits handed to the executor."""
    return limits.with_caps(max_test_cases=max(limits.caps.max_test_cases, TEST_CASES_MAX))
