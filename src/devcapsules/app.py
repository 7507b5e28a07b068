"""The application: settings + dependencies + middleware chain + router, built once per
isolate.

`App(settings, ...)` is the build: the settings arrive validated (`Settings.from_vars`),
the dependencies (`Dependencies`: executor, model provider, clock, ids) are made here
once, unless a test passes its own, and every request's `Context` carries both.
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
from devcapsules.context import Context, Dependencies, WaitUntil, run_in_background
from devcapsules.http import Request, Response
from devcapsules.logs import Logger
from devcapsules.middleware import Middleware, compose
from devcapsules.middleware.stack import default_middleware
from devcapsules.routing import Route, Router
from devcapsules.settings import Settings

QueueHandler = Callable[[MessageBatch, Context], "object"]


def default_dependencies(settings: Settings, logger: Logger) -> Dependencies:
    """The real ones: the hybrid executor over `settings.execution` (its backends are made
    on first use), the configured model provider, the system clock, random ids."""
    from devcapsules.services.clock import Clock, Ids
    from devcapsules.services.execution.hybrid import HybridExecutor

    return Dependencies(
        executor=HybridExecutor(settings.execution, logger),
        model_provider=model_provider,
        clock=Clock(),
        ids=Ids(),
    )


def model_provider(config: Any, client: Any) -> Any:
    """`providers.make_provider`, imported on first use: httpx and the providers are loaded
    where a generation batch runs, not by every cold isolate's first event."""
    from devcapsules.services.generation.providers import make_provider

    return make_provider(config, client)


class App:
    def __init__(
        self,
        settings: Settings,
        routes: Sequence[Route] | Router,
        middleware: Sequence[Middleware] | None = None,
        consumers: dict[str, QueueHandler] | None = None,
        logger: Logger | None = None,
        dependencies: Dependencies | None = None,
    ):
        self.settings = settings
        self.logger = logger or Logger(level=settings.logging.level)
        self.deps = dependencies or default_dependencies(settings, self.logger)
        # A prepared Router (see `prepare`) is shared, not compiled again.
        self.router = routes if isinstance(routes, Router) else Router(routes)
        stack = default_middleware(settings) if middleware is None else list(middleware)
        self.chain = compose(stack, self.router)
        self.consumers = dict(consumers or {})

    def context(self, env: Env, wait_until: WaitUntil = run_in_background) -> Context:
        return Context(
            settings=self.settings,
            env=env,
            logger=self.logger,
            wait_until=wait_until,
            deps=self.deps,
        )

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

    def build(
        settings: Settings, logger: Logger | None = None, dependencies: Dependencies | None = None
    ) -> App:
        return App(settings, router, consumers=registry, logger=logger, dependencies=dependencies)

    return build


def build_app(
    settings: Settings, logger: Logger | None = None, dependencies: Dependencies | None = None
) -> App:
    return prepare()(settings, logger, dependencies)
