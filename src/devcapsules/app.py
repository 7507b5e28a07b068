"""The application: settings + middleware chain + router, built once per isolate.

`handle(request, env)` is what every host calls: the Workers entrypoint, the local
ASGI adapter and the tests. `handle_batch` is the queue-consumer counterpart. It always
answers: the chain renders every exception at the layer it escapes (`middleware.compose`
and `errors.error_response`), so `handle` needs no safety net of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import MessageBatch
from devcapsules.context import Context, WaitUntil, run_in_background
from devcapsules.http import Request, Response
from devcapsules.logs import Logger
from devcapsules.middleware import Middleware, compose
from devcapsules.middleware.stack import default_middleware
from devcapsules.routing import Route, Router
from devcapsules.settings import Settings

QueueHandler = Callable[[MessageBatch, Context], "object"]


class App:
    def __init__(
        self,
        settings: Settings,
        routes: Sequence[Route] | Router,
        middleware: Sequence[Middleware] | None = None,
        consumers: dict[str, QueueHandler] | None = None,
        logger: Logger | None = None,
    ):
        self.settings = settings
        self.logger = logger or Logger(level=settings.log_level)
        # A prepared Router (see `prepare`) is shared, not compiled again.
        self.router = routes if isinstance(routes, Router) else Router(routes)
        stack = default_middleware(settings) if middleware is None else list(middleware)
        self.chain = compose(stack, self.router)
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
