"""Code execution for the API: the `Executor` interface, its backends and the hybrid.

- `base.Executor`: execute / run_tests / languages, results in the public shape; a test
  run is the one typed `schemas.execution.SuiteResult`, read as is by every caller.
- Backends: `LocalExecutor` (the sandbox library in-process; imported lazily, never on the
  edge), `RemoteExecutor` (our executor service over HTTP with `AWS_EXECUTOR_API_KEY`),
  `PistonExecutor` (a Piston v2 server, for languages we do not run ourselves).
- `hybrid`: the language -> backend table (`ExecutorConfig`, the `Settings.execution`
  section, parsed when the app is built) and `HybridExecutor`, the router over the
  backends, built once per app (`ctx.deps.executor`; `executor_for(ctx)` returns it).
- `runs`: what the routes do; `records`: the executions table. Per-plan maximums live in
  the plans table (`services/plans/`).

Importing this package imports no backend: each is loaded when first chosen.
"""

from devcapsules.services.execution.base import Executor
from devcapsules.services.execution.hybrid import ExecutorConfig, HybridExecutor, executor_for

__all__ = ["Executor", "ExecutorConfig", "HybridExecutor", "executor_for"]
