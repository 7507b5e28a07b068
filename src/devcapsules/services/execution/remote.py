"""`RemoteExecutor`: our executor service (`devcapsules executor serve`) over HTTP.

This is what the Worker uses: it cannot start processes, so code leaves the edge. The
service speaks the public API's own paths and shapes (plus `/execute/tests/batch`, the
protocol's `run_tests_batch`), which keeps this a thin client:
requests go out with `Authorization: Bearer <AWS_EXECUTOR_API_KEY>` and the effective
limits already capped by plan; answers come back in the public shape. Failures map to
what the caller can act on: the service's client errors pass through unchanged, a busy
service is a 503 with its `Retry-After`, an unreachable one 503, a slow one 504 (one
deadline for the whole call, `deadline_s`), an answer that is not our declared shape or
is too large a 502 `executor_bad_response`, and anything else (including the service
refusing our key) a 502 `executor_error` that leaks no detail.

httpx is imported on first use (it is a built-in package on Python Workers, where its
transport is the runtime's fetch). A client per call: cheap next to a sandbox run, and
it never outlives the event loop it was made on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from devcapsules.errors import DependencyFailed, error_for_status
from devcapsules.logs import Logger
from devcapsules.schemas.execution import (
    BatchRun,
    ExecutionResult,
    LanguageInfo,
    SuiteBatchResult,
    SuiteResult,
)
from devcapsules.services import outbound
from devcapsules.services.execution.answers import (
    MAX_BATCH_ANSWER_BYTES,
    MAX_LIST_ANSWER_BYTES,
    MAX_RUN_ANSWER_BYTES,
    bad_response,
    checked,
    executor_call,
    suite_answer_bytes,
)
from devcapsules.services.execution.base import unavailable
from devcapsules.services.plans import RunLimits

PASS_THROUGH = {400, 413, 422}  # the caller's mistake, as the service judged it
# Beyond the run itself: compile time and the connection. The service enforces the rest.
NETWORK_SLACK_S = 35.0


class RemoteExecutor:
    name = "remote"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float | None = None,
        logger: Logger | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.logger = logger or Logger()

    async def execute(
        self, source_code: str, language: str, *, stdin: str, limits: RunLimits
    ) -> dict[str, Any]:
        body = {"source_code": source_code, "language": language, "stdin": stdin}
        body |= _limits(limits)
        path = "/api/v1/execute"
        answer = await self._call("POST", path, body, limits.time_limit_s, MAX_RUN_ANSWER_BYTES)
        return self._checked(ExecutionResult, answer)

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> SuiteResult:
        body = {"userCode": user_code, "testCases": test_cases, "language": language}
        if function_name is not None:
            body["functionName"] = function_name
        body |= _limits(limits)
        run_s = limits.suite_wall_s(len(test_cases))
        bound = suite_answer_bytes(len(test_cases))
        answer = await self._call("POST", "/api/v1/execute/tests", body, run_s, bound)
        # The checked answer is the typed result itself; its envelope (success,
        # requestId, limits) and unknown fields are dropped, unset ones stay unsent.
        return checked(SuiteResult, answer, self.logger, self.name)

    async def run_tests_batch(
        self, runs: list[BatchRun], language: str, *, limits: RunLimits
    ) -> list[SuiteResult]:
        """The service's `/execute/tests/batch`: it runs the batch the way the local
        backend does (one sandbox and one of its slots for Python function tests)."""
        body = {
            "language": language,
            "runs": [run.model_dump(exclude_none=True) for run in runs],
            **_limits(limits),
        }
        cases = [len(run.testCases) for run in runs]
        run_s = sum(limits.suite_wall_s(n) for n in cases)  # the runs may take turns
        bound = min(MAX_BATCH_ANSWER_BYTES, sum(suite_answer_bytes(n) for n in cases))
        path = "/api/v1/execute/tests/batch"
        answer = await self._call("POST", path, body, run_s, bound)
        results = checked(SuiteBatchResult, answer, self.logger, self.name).results
        if len(results) != len(runs):
            reason = f"{len(results)} results for {len(runs)} runs"
            raise bad_response(self.logger, self.name, reason)
        return results

    async def languages(self) -> list[dict[str, Any]]:
        path = "/api/v1/execute/languages"
        answer = await self._call("GET", path, None, 0, MAX_LIST_ANSWER_BYTES)
        return self._checked(_Languages, answer)["languages"]

    def deadline_s(self, run_s: float) -> float:
        """The whole call's budget: EXECUTOR_TIMEOUT_S when set, else the run's own
        wall time with headroom for compiling and the network."""
        return self.timeout_s or run_s * 1.5 + NETWORK_SLACK_S

    def _checked(self, model: type[BaseModel], answer: Any) -> dict[str, Any]:
        # Only the declared fields survive: the service's envelope (success, requestId,
        # limits) and anything unknown are dropped; the route adds its own.
        return checked(model, answer, self.logger, self.name).model_dump(exclude_unset=True)

    async def _call(
        self, method: str, path: str, body: Any, run_s: float, max_bytes: int
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        answer = await executor_call(
            self.logger,
            self.name,
            self.base_url + path,
            method,
            deadline_s=self.deadline_s(run_s),
            max_bytes=max_bytes,
            json_body=body,
            headers=headers,
        )
        return _answer(answer, self.logger)


class _Languages(BaseModel):
    languages: list[LanguageInfo]


def _limits(limits: RunLimits) -> dict[str, Any]:
    return {"time_limit": limits.time_limit_s, "memory_limit": limits.memory_limit_mb}


def _answer(answer: outbound.Answer, logger: Logger) -> Any:
    status, data = answer.status, answer.json()
    if 200 <= status < 300:
        if data is None:
            raise bad_response(logger, RemoteExecutor.name, f"HTTP {status}: body is not JSON")
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        error = {}
    code, message = error.get("code"), error.get("message")
    if status in PASS_THROUGH and isinstance(code, str) and isinstance(message, str):
        raise error_for_status(status, code, message, error.get("details"))
    if status == 503:
        retry = answer.headers.get("retry-after")
        raise unavailable(
            code if isinstance(code, str) else "executor_unavailable",
            message if isinstance(message, str) else "The code executor is unavailable",
            int(retry) if retry and retry.isdigit() else None,
        )
    # 401/403 mean our key is wrong: an operator's problem, never shown to the caller.
    logger.error("executor_error", status=status, code=code)
    raise DependencyFailed("executor_error", "The code executor failed to answer properly")
