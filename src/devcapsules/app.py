"""The application: settings + dependencies + middleware chain + router, built once per
isolate, and `compose`, which links the chain with the router (as Starlette's
`build_middleware_stack` does in its application).

`App(settings, ...)` is the build: the settings arrive validated (`Settings.from_vars`),
the dependencies (`Dependencies`: executor, model provider, clock, ids) are made here
once, unless a test passes its own, and every request's `Context` carries both.
`handle(request, env)` is what every host calls: the Workers entrypoint, the local
ASGI adapter and the tests. `handle_batch` is the queue-consumer counterpart. It always
answers: `compose` puts a boundary around each layer and the router that hands an
escaping exception to the one renderer, `errors.error_response` (the way Hono's `compose`
calls `onError` at every level), so `handle` needs no safety net of its own and every
layer's `call_next` returns a Response. An error raised by the rate limiter or a handler
is decorated by every layer outside it exactly like a success; layer order is about what
runs first, never about who can see an error.

The router (and with it pydantic) is imported where an App is built, not at the top: a
Worker whose settings fail serves `middleware.stack.MisconfiguredApp`, composed here too,
and must not need pydantic (tests/pyodide).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from devcapsules.bindings.env import Env
from devcapsules.bindings.protocols import MessageBatch
from devcapsules.context import Context, Dependencies, WaitUntil, run_in_background
from devcapsules.errors import error_response
from devcapsules.http import Request, Response
from devcapsules.logs import Logger
from devcapsules.middleware import CallNext, Middleware
from devcapsules.middleware.stack import default_middleware
from devcapsules.settings import Settings

if TYPE_CHECKING:
    from devcapsules.routing import Route, Router

QueueHandler = Callable[[MessageBatch, Context], "object"]


def compose(middlewares: Sequence[Middleware], endpoint: CallNext) -> CallNext:
    """Build the chain once, outermost first. Each layer may call `call_next` at most
    once per request."""
    handler = _bounded(endpoint)
    for middleware in reversed(middlewares):
        handler = _link(middleware, handler)
    return handler


def _bounded(endpoint: CallNext) -> CallNext:
    async def bounded(request: Request, ctx: Context) -> Response:
        try:
            return await endpoint(request, ctx)
        except Exception as exc:
            return error_response(exc, ctx)

    return bounded


def _link(middleware: Middleware, call_next: CallNext) -> CallNext:
    async def linked(request: Request, ctx: Context) -> Response:
        called = False

        # Not a coroutine itself: it hands back the next layer's, so the guard adds no
        # frame per layer to every request.
        def guarded_next(req: Request, c: Context) -> Awaitable[Response]:
            nonlocal called
            if called:
                raise RuntimeError(f"{middleware.__name__} called call_next twice")
            called = True
            return call_next(req, c)

        try:
            response = await middleware(request, ctx, guarded_next)
            if not isinstance(response, Response):
                name = type(response).__name__
                raise TypeError(f"Middleware {middleware.__name__} returned {name}")
        except Exception as exc:
            return error_response(exc, ctx)
        return response

    linked.__name__ = f"linked_{middleware.__name__}"
    return linked


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
        from devcapsules.routing import Router  # here, not at the top: see the module doc

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

        return await run_scheduled(env, self.settings, cron, self.logger, clock=self.deps.clock)


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
    from devcapsules.routing import Router

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
