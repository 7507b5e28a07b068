"""The application: settings + middleware chain + router, built once per isolate.

`handle(request, env)` is what every host calls: the Workers entrypoint, the local
ASGI adapter and the tests. `handle_batch` is the queue-consumer counterpart. It always
answers: the chain renders every exception at the layer it escapes (`middleware.compose`
and `errors.error_response`), so `handle` needs no safety net of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import MessageBatch
from devcapsules.context import Context, WaitUntil, run_in_background
from devcapsules.http import Request, Response
from devcapsules.logs import Logger
from devcapsules.middleware import CallNext, Middleware, compose
from devcapsules.middleware.auth import authenticate_middleware, credential_gate_middleware
from devcapsules.middleware.body_limit import body_limit_middleware
from devcapsules.middleware.cors import cors_middleware, preflight_middleware
from devcapsules.middleware.logging import logging_middleware
from devcapsules.middleware.rate_limit import rate_limit_middleware
from devcapsules.middleware.request_id import request_id_middleware
from devcapsules.middleware.security_headers import security_headers_middleware
from devcapsules.routing import Route, Router
from devcapsules.settings import Settings, SettingsError

QueueHandler = Callable[[MessageBatch, Context], "object"]


def decorating_middleware(settings: Settings) -> list[Middleware]:
    """The layers that decorate every answer, error or not: security headers → request
    id → access log → CORS. They only set headers and log (logging cannot raise:
    `logs.GuardedSink`), so a request whose write happened always gets its answer."""
    return [
        security_headers_middleware(),
        request_id_middleware(),
        logging_middleware(),
        cors_middleware(settings.allowed_origins),
    ]


def default_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the decorating layers, then CORS preflights → body limit →
    authenticate → rate limit
    (whose headers go on every counted answer) → credential gate (the deferred 401 of a
    bad credential). An error raised anywhere is rendered where it escapes and reaches
    every outer layer as a Response (`middleware.compose`)."""
    return [
        *decorating_middleware(settings),
        preflight_middleware(settings.allowed_origins),
        body_limit_middleware(settings.max_body_bytes),
        authenticate_middleware(),
        # After authenticate: counts by principal and plan, else by client IP.
        rate_limit_middleware(settings.limits),
        credential_gate_middleware(),
    ]


class App:
    def __init__(
        self,
        settings: Settings,
        routes: Sequence[Route] | Router,
        middleware: Sequence[Middleware] | None = None,
        consumers: dict[str, QueueHandler] | None = None,
        logger: Logger | None = None,
        endpoint: CallNext | None = None,
    ):
        self.settings = settings
        self.logger = logger or Logger(level=settings.log_level)
        # A prepared Router (see `prepare`) is shared, not compiled again.
        self.router = routes if isinstance(routes, Router) else Router(routes)
        stack = default_middleware(settings) if middleware is None else list(middleware)
        # `endpoint`: what answers inside the chain instead of the router (see
        # `misconfigured_app`).
        self.chain = compose(stack, endpoint or self.router)
        self.consumers = dict(consumers or {})

    def context(self, env: Env, wait_until: WaitUntil = run_in_background) -> Context:
        return Context(settings=self.settings, env=env, logger=self.logger, wait_until=wait_until)

    async def handle(
        self, request: Request, env: Env, wait_until: WaitUntil = run_in_background
    ) -> Response:
        return await self.chain(request, self.context(env, wait_until))

    async def handle_batch(
        self, batch: MessageBatch, env: Env, wait_until: WaitUntil = run_in_background
    ) -> None:
        """Dispatch a delivered batch to its queue's consumer; unknown queues are retried."""
        ctx = self.context(env, wait_until)
        consumer = self.consumers.get(batch.queue)
        if consumer is None:
            ctx.logger.error("queue_without_consumer", queue=batch.queue)
            batch.retry_all()
            return
        await consumer(batch, ctx)

    async def handle_scheduled(
        self, cron: str, env: Env, wait_until: WaitUntil = run_in_background
    ) -> dict[str, Any]:
        """The cron trigger: the maintenance job, with this app's settings and logger."""
        from devcapsules.maintenance import run_scheduled

        return await run_scheduled(env, self.settings, cron, self.logger)


AppBuilder = Callable[[Settings], App]


def prepare() -> AppBuilder:
    """Everything that needs no settings, built now; the rest, `builder(settings)`, later.

    Imports the route table, the schemas and their pydantic models (pydantic builds each
    model's validator at class creation) and compiles the router and the consumer
    registry. No I/O, no env, no randomness: the Worker calls this at import time, so the
    deploy snapshot keeps the result and a cold isolate's first event only builds the
    settings-dependent middleware chain.
    """
    from devcapsules.consumers import consumers
    from devcapsules.routes import all_routes

    router = Router(all_routes())
    registry = consumers()

    def build(settings: Settings, logger: Logger | None = None) -> App:
        return App(settings, router, consumers=registry, logger=logger)

    return build


def build_app(settings: Settings, logger: Logger | None = None) -> App:
    return prepare()(settings, logger)


def misconfigured_app(error: SettingsError, vars: Mapping[str, str]) -> App:
    """What a Worker whose settings cannot be built serves on every route: the decorating
    layers around an endpoint that raises `error`, rendered by the one renderer as a 500
    `configuration_error` (logged with the request id). CORS uses `ALLOWED_ORIGINS` when
    that var itself is readable, so a browser can read the answer; nothing is counted
    (the plan table is part of the settings that failed)."""
    try:
        settings = Settings.from_vars({"ALLOWED_ORIGINS": vars.get("ALLOWED_ORIGINS", "")})
    except SettingsError:
        settings = Settings()

    async def refuse(request: Request, ctx: Context) -> Response:
        raise error

    return App(settings, [], middleware=decorating_middleware(settings), endpoint=refuse)
