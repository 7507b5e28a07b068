"""`devcapsules executor serve`: the service under uvicorn, logging JSON lines."""

from __future__ import annotations

import contextlib

from devcapsules.bindings.env import Env
from devcapsules.executor_service.app import ServiceConfig, build_service_app
from devcapsules.local.asgi import AsgiAdapter
from devcapsules.logs import Logger


def make_asgi(config: ServiceConfig, logger: Logger | None = None) -> AsgiAdapter:
    app = build_service_app(config, logger)
    return AsgiAdapter(app, Env())


async def announce(config: ServiceConfig, logger: Logger, url: str) -> None:
    """Discover toolchains before the first request, and say what this host can run."""
    from devcapsules.services.execution.local import LocalExecutor, announce_sandbox

    languages = [item["language"] for item in await LocalExecutor().languages()]
    logger.info(
        "executor_service_started",
        url=url,
        concurrency=config.concurrency,
        queueDepth=config.effective_queue_depth,
        languages=languages,
        authentication=config.api_key is not None,
    )
    await announce_sandbox(logger, config.warm_pool, config.concurrency)
    if config.api_key is None:
        logger.warn("insecure_no_auth", message="anyone who can reach this port can run code")


async def serve(config: ServiceConfig, host: str, port: int) -> None:
    from devcapsules.local.http_server import uvicorn_server

    logger = Logger(level=config.log_level)
    server = uvicorn_server(make_asgi(config, logger), host, port)
    from devcapsules.services.execution.local import drain_warm_pool

    await announce(config, logger, f"http://{host}:{port}")
    try:
        await server.serve()
    finally:
        drain_warm_pool()


def run(config: ServiceConfig, host: str, port: int) -> None:
    from devcapsules.local.http_server import run_event_loop

    with contextlib.suppress(KeyboardInterrupt):
        run_event_loop(serve(config, host, port))
