"""Per-request context handed to every middleware and handler. Nothing is global.

Two kinds of state reach a handler through it:
- per app, built once when the app is built (like Starlette's `app.state`): the typed
  `settings` (every section validated) and the `deps` (`Dependencies`: the executor, the
  model provider factory, the clock, the id source), shared by every request;
- per request (like Hono's `c.env` / `c.set`): the host's `env` (bindings), the logger
  bound to the request id, the principal, `wait_until`, middleware scratch `state`.
Tests replace a dependency by passing fakes to `build_app(settings, dependencies=...)`,
never by patching module attributes.

The principal is part of that per-request state: who is calling, a user (JWT session) or
an API key acting for its owner, with its plan and scopes (`Principal`, set by the auth
layer; the plan names and grantable scopes are defined beside it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devcapsules.bindings.env import Env
from devcapsules.logs import Logger

if TYPE_CHECKING:  # the settings' sections import services that name the context
    from devcapsules.services.clock import Clock, Ids
    from devcapsules.services.execution.hybrid import HybridExecutor
    from devcapsules.settings import Settings

PLANS = ("free", "creator", "team", "enterprise")

# Scopes an API key may be granted.
SCOPES = (
    "capsules:read",
    "capsules:write",
    "execute",
    "generate",
    "analytics:read",
    "analytics:write",
)
# Held by user sessions only, never grantable to a key: managing the account and its
# keys (a leaked widget key must not be able to mint more keys).
ACCOUNT_SCOPE = "account"
SESSION_SCOPES = frozenset((*SCOPES, ACCOUNT_SCOPE))


@dataclass(frozen=True)
class Principal:
    user_id: str
    plan: str
    kind: str = "user"  # "user" (JWT session) or "api_key"
    scopes: frozenset[str] = field(default_factory=lambda: SESSION_SCOPES)
    api_key_id: str | None = None
    token_id: str | None = None

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

    @property
    def log_id(self) -> str:
        return f"{self.user_id}/{self.api_key_id}" if self.api_key_id else self.user_id

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


# (Settings.generation, an httpx.AsyncClient) -> a generation `Provider`.
ProviderFactory = Callable[[Any, Any], Any]

WaitUntil = Callable[[Awaitable[Any]], None]


def run_in_background(awaitable: Awaitable[Any]) -> None:
    """Local stand-in for `ctx.waitUntil`: schedule on the running loop, keep a reference."""
    task = asyncio.ensure_future(awaitable)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


_background_tasks: set[asyncio.Future[Any]] = set()


@dataclass(frozen=True)
class Dependencies:
    """What the app builds once and every request shares (see `app.default_dependencies`).

    `executor` is the hybrid router over the backends (each made on first use, so the
    Worker never imports the sandbox; `for_language` resolves the one that runs, once per
    request); `model_provider` makes the generation provider for a consumer batch's HTTP
    client; `clock` and `ids` are time and ids.
    """

    executor: HybridExecutor
    model_provider: ProviderFactory
    clock: Clock
    ids: Ids


@dataclass
class Context:
    settings: Settings
    env: Env
    logger: Logger
    wait_until: WaitUntil = run_in_background
    request_id: str = ""
    # The app's dependencies (None only for a context built outside an app).
    deps: Dependencies | None = None
    # Set by the authenticate middleware when a valid credential is present.
    principal: Principal | None = None
    # Per-request scratch for middleware (e.g. a credential the auth layer rejected).
    state: dict[str, Any] = field(default_factory=dict)
