"""Publishing's gate: a capsule's reference solution must pass its own test cases.

The seam: `verify_solution(ctx, capsule)` runs the tests through `test_runner(ctx)`:
- `ctx.env.test_runner`, when a host sets it (the edge will set the remote executor's
  client here), else
- the local executor library (`devcapsules.executor.run_tests`), imported on first use.

A runner is `async (code, test_cases, language, function_name) -> result`, where the
result has `.status` ("passed" when all pass), `.passed`, `.total` and `.tests` (each with
`.passed`), like `executor.TestRunResult`. A runner that cannot run at all raises
`HTTPError(503, "executor_unavailable", ...)`; one refusing the input raises a 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.context import Context
from devcapsules.http import HTTPError

TestRunner = Callable[[str, list[dict], str, str | None], Awaitable[Any]]


def test_runner(ctx: Context) -> TestRunner:
    return getattr(ctx.env, "test_runner", None) or run_locally


async def run_locally(
    code: str, test_cases: list[dict], language: str, function_name: str | None
) -> Any:
    """The in-process executor; its exceptions become the API's errors here."""
    try:
        from devcapsules import executor
    except ImportError as exc:  # e.g. a host without the executor's dependencies
        raise unavailable(str(exc)) from None
    try:
        return await executor.run_tests(code, test_cases, language, function_name)
    except executor.SandboxUnavailable as exc:
        raise unavailable(str(exc)) from None
    except executor.UnknownLanguage as exc:
        raise HTTPError(
            422,
            "language_not_executable",
            f"This host cannot run {language} code",
            details={"supported": exc.supported},
        ) from None
    except (executor.InvalidTestCases, executor.SourceTooLarge) as exc:
        raise HTTPError(422, "invalid_test_cases", str(exc)) from None


def unavailable(reason: str) -> HTTPError:
    return HTTPError(
        503,
        "executor_unavailable",
        "Code execution is unavailable, so the solution cannot be checked; try again later",
        details={"reason": reason},
        headers={"Retry-After": "60"},
    )


async def verify_solution(ctx: Context, capsule: Any) -> None:
    """Return if the reference solution passes every test case (hidden ones included);
    otherwise raise 422 `no_test_cases`, `no_solution` or `solution_fails_tests`."""
    if not capsule.test_cases:
        raise HTTPError(422, "no_test_cases", "Add test cases before publishing")
    if not capsule.solution.strip():
        raise HTTPError(422, "no_solution", "Add a reference solution before publishing")
    run = test_runner(ctx)
    result = await run(
        capsule.solution, capsule.test_cases, capsule.language, capsule.function_name
    )
    if result.status != "passed":
        failed = [i for i, test in enumerate(result.tests) if not test.passed]
        raise HTTPError(
            422,
            "solution_fails_tests",
            f"The reference solution passes {result.passed} of {result.total} test cases",
            details={
                "status": result.status,
                "passed": result.passed,
                "total": result.total,
                "failedTestIndexes": failed,
                "error": getattr(result, "error", None),
                "compileOutput": (getattr(result, "compile_output", "") or "")[:2000],
            },
        )
