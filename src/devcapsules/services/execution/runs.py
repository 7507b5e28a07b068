"""What `/execute` and `/execute/tests` do, whichever backend runs the code: cap limits
by plan, refuse oversized input, dispatch, and record the execution without waiting.

This is where a request's limits are clamped and its sizes checked, once
(`services/plans/`); every backend, the sandbox library included, takes the
resulting `RunLimits` as they are.

The record: every execution leaves a row in `executions` (who, key, capsule, language, kind,
status, duration, tests passed/total), and a run against a capsule also counts as a
`code_run`/`test_run` analytics event (event id = execution id, so a widget reporting
the same run is deduplicated). Both are handed to `ctx.wait_until`: the caller gets
the answer without waiting on D1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devcapsules.context import Context
from devcapsules.schemas.execution import ExecuteRequest, RunTestsRequest
from devcapsules.services import clock
from devcapsules.services.analytics.recording import record_execution_event
from devcapsules.services.clock import iso
from devcapsules.services.execution.capsule_tests import (
    capsule_suite_limits,
    load_capsule_suite,
)
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
                tests_passed=r.tests_passed,
                tests_total=r.tests_total,
            )
    except Exception as exc:  # background work: log it, never surface it
        ctx.logger.error("execution_record_failed", executionId=execution_id, error=str(exc))
