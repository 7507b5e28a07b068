"""`PistonExecutor`: a Piston v2 server for languages our executor lacks.

Piston v2 (docs/api-v2.md of engineer-man/piston): `GET {base}/api/v2/runtimes` lists
`[{language, version, aliases, runtime?}]`; `POST {base}/api/v2/execute` takes
`{language, version, files: [{name?, content}], stdin, args, run_timeout,
compile_timeout (ms), run_memory_limit, compile_memory_limit (bytes)}` and answers
`{language, version, run: {stdout, stderr, output, code, signal, ...}, compile?: {...}}`;
newer servers add `run.status` ("TO" timed out, "OL"/"EL" output limit, "SG" signal,
"RE" runtime error, "XX" internal), `wall_time` (ms) and `memory` (bytes).

What Piston cannot do: run N test cases in one sandbox, or function tests (our harnesses
live in our sandbox). Here I/O tests run one Piston request per case, PARALLEL_CASES at
a time, within the whole run's budget of our own executor (time_limit x N + 2 s, capped;
cases unanswered by then are time_limit_exceeded, as in our sandbox), compared on this
side with the same rules as the sandbox library (`devcapsules.executor.matching`, whose
import would pull the sandbox into the Worker, hence the few lines below); function tests
are refused with a 422 that says to use stdin/expectedOutput.
"""

from __future__ import annotations

import asyncio
from typing import Any

from devcapsules.errors import DependencyFailed, InvalidInput
from devcapsules.logs import Logger
from devcapsules.matching import output_equal, shown_result
from devcapsules.schemas.execution import BatchRun, SuiteResult
from devcapsules.services import clock, outbound
from devcapsules.services.execution.answers import (
    MAX_LIST_ANSWER_BYTES,
    MAX_RUN_ANSWER_BYTES,
    PistonAnswer,
    PistonRuntime,
    bad_response,
    checked,
    executor_call,
)
from devcapsules.services.execution.base import (
    invalid_test_cases,
    run_each,
    unavailable,
    unsupported_language,
)
from devcapsules.services.plans import RunLimits

MAX_OUTPUT_CHARS = 64 * 1024  # per stream, like our own sandbox
COMPILE_TIMEOUT_MS = 10_000
# One request's budget beyond compiling and running: the network and Piston's queue.
NETWORK_SLACK_S = 5.0
RUNTIMES_DEADLINE_S = 10.0
SIGNALS = {"SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGSEGV": 11, "SIGTERM": 15}
SIGXCPU = 24
PARALLEL_CASES = 4  # Piston requests in flight per test run
LATE_ERROR = "time limit exceeded: the run ended before this test completed"


class PistonExecutor:
    name = "piston"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        languages: frozenset[str] | None = None,
        logger: Logger | None = None,
        timeout_s: float | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.only = languages  # when Piston serves only some languages (the routing table)
        self.logger = logger or Logger()
        self.timeout_s = timeout_s  # EXECUTOR_TIMEOUT_S: one request's whole budget

    def deadline_s(self, limits: RunLimits | None) -> float:
        if self.timeout_s:
            return self.timeout_s
        if limits is None:
            return RUNTIMES_DEADLINE_S
        return limits.time_limit_s + COMPILE_TIMEOUT_MS / 1000 + NETWORK_SLACK_S

    async def execute(
        self, source_code: str, language: str, *, stdin: str, limits: RunLimits
    ) -> dict[str, Any]:
        started = clock.monotonic()
        answer = await self._post_execute(source_code, language, stdin, limits)
        return to_execution(answer, limits, elapsed_ms(started))

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> SuiteResult:
        cases = [_io_case(i, case) for i, case in enumerate(test_cases)]
        started = clock.monotonic()
        runs = await self._run_cases(user_code, language, cases, limits)
        compile_failure = next((r for r in runs if r and r["status"] == "compile_error"), None)
        if compile_failure is not None:
            return _compile_failure(compile_failure, len(cases))
        results = [
            _case_result(case, run) if run else _late_result(case)
            for case, run in zip(cases, runs, strict=True)
        ]
        passed = sum(result["passed"] for result in results)
        status = "passed" if passed == len(cases) else "failed"
        error = None
        if not all(runs):  # the run's deadline passed first, as in our own sandbox
            status, error = "time_limit_exceeded", LATE_ERROR
        last = next((run for run in reversed(runs) if run), {})
        return SuiteResult.model_validate(
            {
                "summary": {"passed": passed, "total": len(cases), "status": status},
                "results": results,
                "compileOutput": last.get("compileOutput", ""),
                "error": error,
                "timeMs": elapsed_ms(started),
                "memoryKb": max((run["memoryKb"] for run in runs if run), default=0),
                "language": last.get("language", language),
                "version": last.get("version", ""),
            }
        )

    async def run_tests_batch(
        self, runs: list[BatchRun], language: str, *, limits: RunLimits
    ) -> list[SuiteResult]:
        """Piston has no batch: each run is its own `run_tests` (a request per case)."""
        return await run_each(self, runs, language, limits)

    async def _run_cases(
        self, user_code: str, language: str, cases: list[dict[str, Any]], limits: RunLimits
    ) -> list[dict[str, Any] | None]:
        """One Piston request per case, PARALLEL_CASES at a time, within the whole run's
        budget (`RunLimits.suite_wall_s`, the sandbox library's). A case unanswered at the
        deadline is None; a compile error stops the rest (they compile the same code); the
        first request that fails (a domain error) stops the rest and is raised."""
        gate = asyncio.Semaphore(PARALLEL_CASES)

        async def one(case: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                return await self.execute(user_code, language, stdin=case["stdin"], limits=limits)

        tasks = [asyncio.create_task(one(case)) for case in cases]
        index = {task: i for i, task in enumerate(tasks)}
        runs: list[dict[str, Any] | None] = [None] * len(cases)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.suite_wall_s(len(cases))
        try:
            pending = set(tasks)
            while pending and (left := deadline - loop.time()) > 0:
                done, pending = await asyncio.wait(
                    pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    runs[index[task]] = run = task.result()  # a failed request raises here
                    if run["status"] == "compile_error":
                        pending = set()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return runs

    async def languages(self) -> list[dict[str, Any]]:
        answer = await self._request("GET", "/api/v2/runtimes", None, None)
        if not isinstance(answer, list):
            raise bad_response(self.logger, self.name, "runtimes: not a list")
        runtimes = [checked(PistonRuntime, item, self.logger, self.name) for item in answer]
        listed = [
            {"language": item.language, "version": item.version, "aliases": item.aliases}
            for item in runtimes
        ]
        if self.only is None:
            return listed
        return [item for item in listed if item["language"] in self.only]

    async def _post_execute(
        self, source_code: str, language: str, stdin: str, limits: RunLimits
    ) -> dict[str, Any]:
        body = {
            "language": language,
            "version": "*",  # a SemVer selector: the newest installed runtime
            "files": [{"content": source_code}],
            "stdin": stdin,
            "args": [],
            "run_timeout": int(limits.time_limit_s * 1000),
            "compile_timeout": COMPILE_TIMEOUT_MS,
            "run_memory_limit": limits.memory_limit_mb * 1024 * 1024,
        }
        try:
            answer = await self._request("POST", "/api/v2/execute", body, limits)
        except _PistonRefused as refused:
            if "runtime" in refused.message.lower():
                supported = sorted({item["language"] for item in await self.languages()})
                raise unsupported_language(language, supported) from None
            raise InvalidInput("piston_refused", refused.message) from None
        return checked(PistonAnswer, answer, self.logger, self.name).model_dump()

    async def _request(self, method: str, path: str, body: Any, limits: RunLimits | None) -> Any:
        headers = {"Authorization": self.api_key} if self.api_key else {}
        answer = await executor_call(
            self.logger,
            self.name,
            self.base_url + path,
            method,
            deadline_s=self.deadline_s(limits),
            max_bytes=MAX_RUN_ANSWER_BYTES if limits else MAX_LIST_ANSWER_BYTES,
            json_body=body,
            headers=headers,
        )
        return _piston_answer(answer, self.logger)


class _PistonRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _piston_answer(answer: outbound.Answer, logger: Logger) -> Any:
    data = answer.json()
    if answer.status == 200:
        if data is None:
            raise bad_response(logger, PistonExecutor.name, "HTTP 200: body is not JSON")
        return data
    message = data.get("message") if isinstance(data, dict) else None
    if answer.status == 400 and isinstance(message, str):
        raise _PistonRefused(message)
    if answer.status == 429:
        raise unavailable("executor_busy", "Piston is rate limiting us", retry_after_s=1)
    logger.error("piston_error", status=answer.status, message=message)
    raise DependencyFailed("executor_error", "Piston failed to answer properly")


def to_execution(answer: dict[str, Any], limits: RunLimits, wall_ms: int) -> dict[str, Any]:
    """A Piston answer in our execution shape, with our status vocabulary."""
    compiled = answer.get("compile") or {}
    run = answer.get("run") or {}
    base = {"language": answer.get("language", ""), "version": answer.get("version", "")}
    compile_output = str(compiled.get("output") or "")
    if compiled and (compiled.get("code") not in (0, None) or compiled.get("signal")):
        return {**_empty_run(), **base, "status": "compile_error", "compileOutput": compile_output}
    stdout, stdout_cut = _cap(run.get("stdout"))
    stderr, stderr_cut = _cap(run.get("stderr"))
    signal = SIGNALS.get(run.get("signal") or "")
    memory = run.get("memory")
    return {
        **base,
        "status": _status(run, signal, limits),
        "stdout": stdout,
        "stderr": stderr,
        "exitCode": run.get("code"),
        "signal": signal,
        "compileOutput": compile_output,
        "timeMs": int(run.get("wall_time") or wall_ms),
        "memoryKb": int(memory) // 1024 if isinstance(memory, int) else 0,
        "stdoutTruncated": stdout_cut,
        "stderrTruncated": stderr_cut,
    }


def _status(run: dict[str, Any], signal: int | None, limits: RunLimits) -> str:
    marker = run.get("status")
    if marker in ("OL", "EL"):
        return "output_limit_exceeded"
    if marker == "TO" or run.get("signal") == "SIGXCPU":
        return "time_limit_exceeded"
    if marker == "XX":
        return "internal_error"
    # Older servers only say SIGKILL: at the deadline that was the timeout.
    wall = run.get("wall_time")
    if signal == SIGNALS["SIGKILL"] and (wall is None or wall >= limits.time_limit_s * 1000):
        return "time_limit_exceeded"
    if run.get("code") not in (0, None) or signal is not None:
        return "runtime_error"
    return "ok"


def _empty_run() -> dict[str, Any]:
    return {
        "stdout": "",
        "stderr": "",
        "exitCode": None,
        "signal": None,
        "timeMs": 0,
        "memoryKb": 0,
        "stdoutTruncated": False,
        "stderrTruncated": False,
    }


def _cap(text: Any) -> tuple[str, bool]:
    text = "" if text is None else str(text)
    return (text[:MAX_OUTPUT_CHARS], True) if len(text) > MAX_OUTPUT_CHARS else (text, False)


def _io_case(index: int, case: dict[str, Any]) -> dict[str, Any]:
    if "expectedOutput" not in case:
        raise invalid_test_cases(
            "function tests need our own executor; for this language use stdin/expectedOutput"
        )
    stdin, expected = case.get("stdin", ""), case["expectedOutput"]
    if not isinstance(stdin, str) or not isinstance(expected, str):
        raise invalid_test_cases(f"testCases[{index}]: stdin/expectedOutput must be strings")
    return {**case, "stdin": stdin, "hidden": bool(case.get("hidden", False))}


def _case_result(case: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    error = None if run["status"] == "ok" else run["status"].replace("_", " ")
    passed = error is None and output_equal(run["stdout"], case["expectedOutput"])
    result = {
        "passed": passed,
        "actual": run["stdout"],
        "expected": case["expectedOutput"],
        "error": error,
        "timeMs": run["timeMs"],
        "stdout": run["stdout"],
        "stderr": run["stderr"],
        "description": case.get("description"),
    }
    return shown_result(result, case["hidden"])


def _late_result(case: dict[str, Any]) -> dict[str, Any]:
    """A case still unanswered at the run's deadline (same words as our sandbox's)."""
    result = {
        "passed": False,
        "actual": None,
        "expected": case["expectedOutput"],
        "error": LATE_ERROR,
        "timeMs": 0,
        "stdout": "",
        "stderr": "",
        "description": case.get("description"),
    }
    return shown_result(result, case["hidden"])


def _compile_failure(run: dict[str, Any], total: int) -> SuiteResult:
    return SuiteResult.model_validate(
        {
            "summary": {"passed": 0, "total": total, "status": "compile_error"},
            "results": [],
            "compileOutput": run["compileOutput"],
            "error": None,
            "timeMs": 0,
            "memoryKb": 0,
            "language": run["language"],
            "version": run["version"],
        }
    )


def elapsed_ms(started: float) -> int:
    return int((clock.monotonic() - started) * 1000)
