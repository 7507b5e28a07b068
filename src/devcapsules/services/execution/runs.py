"""What `/execute` and `/execute/tests` do, whichever backend runs the code: cap limits
by plan, refuse oversized input, dispatch, and record the execution without waiting.

This is where a request's limits are clamped and its sizes checked, once
(`services/plans/`); every backend, the sandbox library included, takes the
resulting `RunLimits` as they are."""

from __future__ import annotations

from typing import Any

from devcapsules.context import Context
from devcapsules.schemas.execution import ExecuteRequest, RunTestsRequest
from devcapsules.services import clock
from devcapsules.services.execution.capsule_tests import (
    capsule_suite_limits,
    load_capsule_suite,
)
from devcapsules.services.execution.hybrid import HybridExecutor
from devcapsules.services.execution.records import ExecutionRecord, record_later
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
