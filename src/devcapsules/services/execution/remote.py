"""`RemoteExecutor`: our executor service (`devcapsules executor serve`) over HTTP.

This is what the Worker uses: it cannot start processes, so code leaves the edge. The
service speaks the public API's own paths and shapes, which keeps this a thin client:
requests go out with `Authorization: Bearer <AWS_EXECUTOR_API_KEY>` and the effective
limits already capped by plan; answers come back in the public shape. Failures map to
what the caller can act on: the service's client errors pass through unchanged, a busy
service is a 503 with its `Retry-After`, an unreachable one 503, a slow one 504, and
anything else (including the service refusing our key) a 502 that leaks no detail.

httpx is imported on first use (it is a built-in package on Python Workers, where its
transport is the runtime's fetch). A client per call: cheap next to a sandbox run, and
it never outlives the event loop it was made on.
"""

from __future__ import annotations

from typing import Any

from devcapsules.http import HTTPError
from devcapsules.logs import Logger
from devcapsules.services.execution.base import unavailable
from devcapsules.services.execution.limits import RunLimits

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
        answer = await self._call("POST", "/api/v1/execute", body, limits.time_limit_s)
        return _strip(answer)

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> dict[str, Any]:
        body = {"userCode": user_code, "testCases": test_cases, "language": language}
        if function_name is not None:
            body["functionName"] = function_name
        body |= _limits(limits)
        run_s = limits.suite_wall_s(len(test_cases))
        return _strip(await self._call("POST", "/api/v1/execute/tests", body, run_s))

    async def languages(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", "/api/v1/execute/languages", None, 0)
        return list(answer.get("languages", []))

    async def _call(self, method: str, path: str, body: Any, run_s: float) -> dict[str, Any]:
        import httpx

        from devcapsules.services.execution.http_client import new_client

        timeout = self.timeout_s or run_s * 1.5 + NETWORK_SLACK_S
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            async with new_client(timeout) as client:
                response = await client.request(
                    method, self.base_url + path, json=body, headers=headers
                )
        except httpx.TimeoutException:
            message = "The code executor did not answer in time"
            raise HTTPError(504, "executor_timeout", message) from None
        except httpx.HTTPError as exc:
            self.logger.warn("executor_unreachable", url=self.base_url, error=str(exc))
            message = "The code executor cannot be reached"
            raise unavailable("executor_unavailable", message) from None
        return _answer(response.status_code, response.headers, _json(response), self.logger)


def _limits(limits: RunLimits) -> dict[str, Any]:
    return {"time_limit": limits.time_limit_s, "memory_limit": limits.memory_limit_mb}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _answer(status: int, headers: Any, data: Any, logger: Logger) -> dict[str, Any]:
    if 200 <= status < 300 and isinstance(data, dict):
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        error = {}
    code, message = error.get("code"), error.get("message")
    if status in PASS_THROUGH and code and message:
        raise HTTPError(status, code, message, details=error.get("details"))
    if status == 503:
        retry = headers.get("retry-after")
        raise unavailable(
            code or "executor_unavailable",
            message or "The code executor is unavailable",
            int(retry) if retry and retry.isdigit() else None,
        )
    # 401/403 mean our key is wrong: an operator's problem, never shown to the caller.
    logger.error("executor_error", status=status, code=code)
    raise HTTPError(502, "executor_error", "The code executor failed to answer properly")


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    # The service's envelope; the route adds its own (limits, backend, executionId).
    return {k: v for k, v in answer.items() if k not in ("success", "requestId", "limits")}
