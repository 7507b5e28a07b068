"""`devcapsules dev`: the API over HTTP, the queue consumer and periodic jobs in one process."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from devcapsules.app import App, build_app
from devcapsules.bindings.env import Env
from devcapsules.bindings.sqlite_queue import QueueBroker
from devcapsules.local.asgi import AsgiAdapter
from devcapsules.local.config import load_config
from devcapsules.local.http_server import uvicorn_server
from devcapsules.local.lease_holder import take_over_predecessor
from devcapsules.local.runtime import (
    LocalRuntime,
    chosen_backend,
    ensure_dev_secret,
    open_sqlite_runtime,
    resolve_state_dir,
    running_env,
)
from devcapsules.local.static_assets import StaticAssets
from devcapsules.logs import Logger
from devcapsules.maintenance import run_periodically
from devcapsules.settings import Settings


def open_runtime(
    root: Path, state_dir: str | None, environment: str | None, quiet: bool = False
) -> LocalRuntime:
    logger = Logger(level="error" if quiet else "info")
    config = load_config(root, environment)
    state = resolve_state_dir(state_dir, root)
    ensure_dev_secret(config, state, logger)
    if chosen_backend() == "miniflare":
        logger.info("bindings_backend", backend="miniflare", state=str(state / "miniflare"))
        return LocalRuntime(None, config, state, backend="miniflare", environment=environment)
    return open_sqlite_runtime(config, state, logger)


def make_broker(app: App, runtime: LocalRuntime) -> QueueBroker | None:
    if runtime.queue_store is None or not runtime.config.consumers:
        return None

    async def deliver(batch) -> None:
        await app.handle_batch(batch, runtime.env)

    def on_error(queue: str, exc: BaseException) -> None:
        app.logger.error("queue_handler_failed", queue=queue, error=f"{type(exc).__name__}: {exc}")

    return QueueBroker(runtime.queue_store, runtime.config.consumers, deliver, on_error)


async def serve(runtime: LocalRuntime, host: str, port: int) -> None:
    settings = Settings.from_vars(runtime.config.vars)
    app = build_app(settings)

    async def consume(batch) -> None:  # Miniflare's consumer delivers here
        await app.handle_batch(batch, runtime.env)

    async with running_env(runtime, consumer=consume) as env:
        await _serve_app(app, env, runtime, settings, host, port)


async def _serve_app(
    app: App, env: Env, runtime: LocalRuntime, settings: Settings, host: str, port: int
) -> None:
    config = runtime.config
    assets = StaticAssets(config.assets) if config.assets else None
    server = uvicorn_server(AsgiAdapter(app, env, assets=assets), host, port)
    # Before the broker redelivers the crashed predecessor's messages: their jobs are free.
    await take_over_predecessor(env, runtime.state_dir, app.logger, app.deps.clock)
    stop = asyncio.Event()
    broker = make_broker(app, runtime)  # SQLite only: Miniflare runs its own consumer
    workers = [asyncio.create_task(broker.run(stop))] if broker else []
    # The local stand-in for the edge's cron trigger (maintenance.run_scheduled).
    workers.append(
        asyncio.create_task(run_periodically(env, settings, stop, app.logger, app.deps.clock))
    )
    app.logger.info(
        "dev_server_started",
        url=f"http://{host}:{port}",
        state=str(runtime.state_dir),
        bindings=runtime.backend,
    )
    await _announce_sandbox(app)
    try:
        await server.serve()
    finally:
        stop.set()
        if "devcapsules.executor.warm" in sys.modules:
            from devcapsules.services.execution.local import drain_warm_pool

            drain_warm_pool()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _announce_sandbox(app: App) -> None:
    """Say once, at start-up, whether code runs here (only if the local backend is used)."""
    execution = app.settings.execution
    if "local" in execution.backends():
        from devcapsules.services.execution.local import announce_sandbox

        await announce_sandbox(app.logger, execution.warm_pool)
