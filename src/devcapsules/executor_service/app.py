"""The service application: routes over a `LocalExecutor`, guarded by key and capacity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devcapsules.app import App
from devcapsules.context import Context
from devcapsules.errors import InvalidInput
from devcapsules.executor_service.guards import service_auth_middleware
from devcapsules.http import Request
from devcapsules.logs import Logger
from devcapsules.middleware.body_limit import body_limit_middleware
from devcapsules.middleware.request_log import request_log_middleware
from devcapsules.middleware.security_headers import security_headers_middleware
from devcapsules.routing import Reply, Route
from devcapsules.schemas import execution as schemas
from devcapsules.services.execution.local import (
    DEFAULT_CONCURRENCY,
    Capacity,
    LocalExecutor,
    queue_depth_for,
    warm_pool_state,
)
from devcapsules.services.plans import ExecutionCaps, PlanTable
from devcapsules.settings import LoggingSettings, Settings

# Room for 100 test cases with sizeable inputs on top of a 256 KiB source.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ServiceConfig:
    api_key: str | None  # None only with --insecure-no-auth
    concurrency: int = DEFAULT_CONCURRENCY
    queue_depth: int | None = None  # default: 4 x concurrency (local.queue_depth_for)
    retry_after_s: int = 1
    log_level: str = "info"
    warm_pool: str | None = None  # EXECUTOR_WARM_POOL; None: python=<concurrency>
    # The plans table from the service's own PLAN_* vars (`devcapsules executor serve`
    # reads them like the Worker does); its ceiling caps every run here.
    plans: PlanTable = field(default_factory=PlanTable)

    @property
    def effective_queue_depth(self) -> int:
        return queue_depth_for(self.concurrency, self.queue_depth)


class ExecutorService:
    """`caps`: the service's own maximums, the plans table's ceiling (the largest plan's
    numbers): the Worker has capped each run by plan already, so the service clamps and
    checks once, against the most any plan may ask for."""

    def __init__(self, capacity: Capacity, caps: ExecutionCaps):
        self.capacity = capacity
        self.caps = caps
        self.executor = LocalExecutor(capacity)  # it takes a slot per run

    async def execute(self, request: Request, ctx: Context) -> dict[str, Any]:
        body: schemas.ExecuteRequest = request.data
        limits = self.caps.clamp(body.time_limit, body.memory_limit)
        limits.check_sizes(body.source_code, body.stdin)
        result = await self.executor.execute(
            body.source_code, body.language, stdin=body.stdin, limits=limits
        )
        return {**result, "limits": limits.public()}

    async def execute_tests(self, request: Request, ctx: Context) -> dict[str, Any]:
        body: schemas.RunTestsRequest = request.data
        if body.testCases is None or body.language is None:
            raise InvalidInput("capsules_not_served", "Send testCases and language")
        limits = self.caps.clamp(body.time_limit, body.memory_limit)
        limits.check_sizes(body.userCode)
        result = await self.executor.run_tests(
            body.userCode, body.testCases, body.language, body.functionName, limits=limits
        )
        return {**result.model_dump(exclude_unset=True), "limits": limits.public()}

    async def execute_tests_batch(self, request: Request, ctx: Context) -> dict[str, Any]:
        """Several test runs in one request: one slot, one sandbox for Python function
        tests (services/execution/local.py), else a run each. Limits are clamped once
        and apply to every run; sizes are checked per run, before anything runs."""
        body: schemas.RunTestsBatchRequest = request.data
        limits = self.caps.clamp(body.time_limit, body.memory_limit)
        for run in body.runs:
            limits.check_sizes(run.userCode)
        results = await self.executor.run_tests_batch(body.runs, body.language, limits=limits)
        wire = [result.model_dump(exclude_unset=True) for result in results]
        return {"results": wire, "limits": limits.public()}

    async def languages(self, request: Request, ctx: Context) -> dict[str, Any]:
        return {"languages": await self.executor.languages()}

    async def health(self, request: Request, ctx: Context) -> Reply:
        capacity = self.capacity
        queued = capacity.admitted - capacity.running
        state = {
            "status": "ok",
            "running": capacity.running,
            "queued": queued,
            "warm": warm_pool_state(),
        }
        return Reply(state, headers={"Cache-Control": "no-store"})

    def routes(self) -> list[Route]:
        """Every success body from its declared model (`Route.render`), as the API's;
        errors in the one error shape (errors.py), rendered by the app's boundary."""
        prefix = "/api/v1/execute"
        return [
            Route(
                prefix,
                self.execute,
                ["POST"],
                body=schemas.ExecuteRequest,
                response=schemas.ServiceExecuteResponse,
            ),
            Route(
                f"{prefix}/tests",
                self.execute_tests,
                ["POST"],
                body=schemas.RunTestsRequest,
                response=schemas.ServiceRunTestsResponse,
            ),
            Route(
                f"{prefix}/tests/batch",
                self.execute_tests_batch,
                ["POST"],
                body=schemas.RunTestsBatchRequest,
                response=schemas.ServiceRunTestsBatchResponse,
            ),
            Route(
                f"{prefix}/languages",
                self.languages,
                ["GET"],
                response=schemas.ServiceLanguagesResponse,
            ),
            Route("/health", self.health, ["GET"], response=schemas.ServiceHealthResponse),
        ]


def build_service_app(config: ServiceConfig, logger: Logger | None = None) -> App:
    settings = Settings(max_body_bytes=MAX_BODY_BYTES, logging=LoggingSettings(config.log_level))
    capacity = Capacity.sized(config.concurrency, config.queue_depth, config.retry_after_s)
    service = ExecutorService(capacity, config.plans.ceiling())
    middleware = [
        security_headers_middleware(),
        request_log_middleware(),
        body_limit_middleware(MAX_BODY_BYTES),
        service_auth_middleware(config.api_key),
    ]
    app = App(settings, service.routes(), middleware=middleware, logger=logger)
    return app
