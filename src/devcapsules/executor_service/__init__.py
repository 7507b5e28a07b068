"""The executor service: the remote side of "hybrid" execution.

`devcapsules executor serve` runs the sandbox (devcapsules.executor) behind the same
endpoints and shapes as the public API, for the Worker's `RemoteExecutor`:
  POST /api/v1/execute          {source_code, language, time_limit?, memory_limit?, stdin?}
  POST /api/v1/execute/tests    {userCode, testCases, language, functionName?, ...}
  POST /api/v1/execute/tests/batch  {language, runs: [{userCode, testCases, functionName?}],
                                time_limit?, memory_limit?} -> {results: [one per run]}
  GET  /api/v1/execute/languages
  GET  /health                  (no credentials: for load balancers)
Every other request needs `Authorization: Bearer <AWS_EXECUTOR_API_KEY>`, compared in
constant time. Limits are capped at the service's own maximums, the plans table's ceiling
(the largest plan's numbers, after the service's own PLAN_* vars): the Worker has already
capped them per plan. At most `concurrency` runs at once (default: CPU
count) and `queue_depth` more waiting; beyond that, 503 `executor_busy` + `Retry-After`
(a batch of Python function tests takes one slot: it is one sandbox). Success bodies come
from the routes' declared models (`schemas.execution.Service*Response`), errors are the
one error shape.
It is built from the app's own parts: Request/Response, Router, middleware, JSON logs.
"""

from devcapsules.executor_service.app import ServiceConfig, build_service_app

__all__ = ["ServiceConfig", "build_service_app"]
