"""Per-request context handed to every middleware and handler. Nothing is global."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.logs import Logger
from devcapsules.settings import Settings

WaitUntil = Callable[[Awaitable[Any]], None]


def run_in_background(awaitable: Awaitable[Any]) -> None:
    """Local stand-in for `ctx.waitUntil`: schedule on the running loop, keep a reference."""
    task = asyncio.ensure_future(awaitable)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


_background_tasks: set[asyncio.Future[Any]] = set()


@dataclass
class Context:
    settings: Settings
    env: Env
    logger: Logger
    wait_until: WaitUntil = run_in_background
    request_id: str = ""
    # Set by the authenticate middleware when a valid credential is present.
    principal: Any = None
    # Per-request scratch for middleware (e.g. a credential the auth layer rejected).
    state: dict[str, Any] = field(default_factory=dict)
