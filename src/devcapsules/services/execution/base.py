"""The `Executor` interface every backend implements, and the shapes it returns.

What each call returns, in the public camelCase shape:
- execute   -> a dict {status, stdout, stderr, exitCode, signal, compileOutput, timeMs,
               memoryKb, stdoutTruncated, stderrTruncated, language, version}
- run_tests -> a `SuiteResult` (schemas.execution): summary {passed, total, status},
               results (one `TestResult` per case; hidden ones carry only passed, error
               and timeMs), compileOutput, error, timeMs, memoryKb, language, version.
               The ONE typed test-run result: every backend builds it (the remote one by
               checking the service's answer against it), and its readers (the
               /execute/tests route, the publish check, the generation verifier) read its
               fields; `model_dump(exclude_unset=True)` is its wire form.
- run_tests_batch -> one `SuiteResult` per `BatchRun` (schemas.execution), in order:
               several test runs of one caller, each isolated from the others and with
               the same limits and result classification as its own `run_tests` call.
               Local: Python function tests share one sandbox, a forked process per run
               (executor/tests_batch.py); remote: the service's `/execute/tests/batch`;
               otherwise (Piston, other languages, I/O tests) `run_each`: a run each.
- languages -> [{language, version, aliases}]
Client mistakes are raised as domain errors (`InvalidInput`, `TooLarge`); an executor that
cannot serve is `Unavailable` (a 503, with `Retry-After` when it is only busy), a broken one
`DependencyFailed` (502), a slow one `DependencyTimeout` (504): see `errors.STATUS`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from devcapsules.errors import InvalidInput, Unavailable
from devcapsules.services.plans import RunLimits

if TYPE_CHECKING:  # the edge adapter imports this module before (and without) pydantic
    from devcapsules.schemas.execution import BatchRun, SuiteResult


class Executor(Protocol):
    name: str

    async def execute(
        self, source_code: str, language: str, *, stdin: str, limits: RunLimits
    ) -> dict[str, Any]: ...

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> SuiteResult: ...

    async def run_tests_batch(
        self, runs: list[BatchRun], language: str, *, limits: RunLimits
    ) -> list[SuiteResult]: ...

    async def languages(self) -> list[dict[str, Any]]: ...


async def run_each(
    executor: Executor, runs: list[BatchRun], language: str, limits: RunLimits
) -> list[SuiteResult]:
    """A batch as separate `run_tests` calls (a sandbox or Piston request set each),
    concurrently, as callers ran them before batches existed: the fallback wherever
    runs cannot share a sandbox. The first failure (a domain error) is raised."""
    return list(
        await asyncio.gather(
            *(
                executor.run_tests(
                    run.userCode, run.testCases, language, run.functionName, limits=limits
                )
                for run in runs
            )
        )
    )


def unsupported_language(name: str, supported: list[str]) -> InvalidInput:
    return InvalidInput(
        "unsupported_language",
        f"Unsupported language {name!r}; supported: {', '.join(supported)}",
        details={"language": name, "supported": supported},
    )


def invalid_test_cases(message: str) -> InvalidInput:
    return InvalidInput("invalid_test_cases", message)


def unavailable(code: str, message: str, retry_after_s: int | None = None) -> Unavailable:
    return Unavailable(code, message, retry_after_s=retry_after_s)
