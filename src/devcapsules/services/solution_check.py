"""Publishing's gate: a capsule's reference solution must pass its own test cases.

The tests run through the same seam as `POST /api/v1/execute/tests`:
`services.execution.executor_for(ctx)`, the hybrid executor that routes each language to
the local sandbox, the remote executor service or Piston according to the vars. So the
edge and the local host check solutions exactly where they run learners' code, and an
executor that cannot serve surfaces as its 503 (`sandbox_unavailable`, or the remote
backend's code) instead of a publish that silently skips the check.
"""

from __future__ import annotations

from typing import Any

from devcapsules.context import Context
from devcapsules.errors import InvalidInput
from devcapsules.schemas.capsules import CODE_MAX
from devcapsules.services.execution import executor_for
from devcapsules.services.execution.capsule_tests import capsule_suite_limits
from devcapsules.services.execution.runs import run_limits
from devcapsules.services.plans import RunLimits


def publish_limits(ctx: Context) -> RunLimits:
    """The owner's plan limits (time, memory), except that the capsule's own suite is
    bounded by the capsule schema (<= 100 cases, <= 64 Ki characters of code), not by the
    plan's per-request caps: a capsule the API accepted must be publishable."""
    limits = capsule_suite_limits(run_limits(ctx, None, None))
    # The reference solution is the owner's stored code, bounded by the capsule schema.
    source_cap = max(limits.caps.max_source_bytes, 4 * CODE_MAX)  # UTF-8: <= 4 bytes per char
    return limits.with_caps(max_source_bytes=source_cap)


async def verify_solution(ctx: Context, capsule: Any) -> None:
    """Return if the reference solution passes every test case (hidden ones included);
    otherwise raise 422 `no_test_cases`, `no_solution` or `solution_fails_tests`, or the
    executor's own error (422 for input it refuses, 503 when it cannot run)."""
    if not capsule.test_cases:
        raise InvalidInput("no_test_cases", "Add test cases before publishing")
    if not capsule.solution.strip():
        raise InvalidInput("no_solution", "Add a reference solution before publishing")
    result = await executor_for(ctx).run_tests(
        capsule.solution,
        capsule.test_cases,
        capsule.language,
        capsule.function_name,
        limits=publish_limits(ctx),
    )
    summary = result.summary
    if summary.status != "passed":
        failed = [i for i, test in enumerate(result.results) if not test.passed]
        raise InvalidInput(
            "solution_fails_tests",
            f"The reference solution passes {summary.passed} of {summary.total} tests",
            details={
                **summary.model_dump(),
                "failedTestIndexes": failed,
                "error": result.error,
                "compileOutput": (result.compileOutput or "")[:2000],
            },
        )
