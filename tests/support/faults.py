"""Faults injected through the injection points (the env's bindings, the app's
dependencies), never by patching module attributes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from devcapsules.bindings.protocols import D1Error


class FailingD1:
    """The real D1 binding, except that statements whose SQL matches `pattern` fail with
    `D1Error(message)`: an outage of one query, handed to the app as `env.db`."""

    def __init__(self, db: Any, pattern: str, message: str = "D1_ERROR: simulated outage"):
        self.db, self.pattern, self.message = db, re.compile(pattern), message

    def prepare(self, sql: str) -> Any:
        statement = self.db.prepare(sql)
        return _FailingStatement(self.message) if self.pattern.search(sql) else statement

    async def batch(self, statements: list[Any]) -> list[Any]:
        if any(isinstance(s, _FailingStatement) for s in statements):
            raise D1Error(self.message)
        return await self.db.batch(statements)

    def __getattr__(self, name: str) -> Any:  # exec, round_trips...: the real binding's
        return getattr(self.db, name)


class _FailingStatement:
    def __init__(self, message: str):
        self.message = message

    def bind(self, *values: Any) -> _FailingStatement:
        return self

    async def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise D1Error(self.message)

    first = all = run = raw = _fail


class WrappedProvider:
    """A model provider whose `generate` goes through `before(request)` first (which may
    raise or wait), then to the real provider: injected as the app's `model_provider`."""

    def __init__(self, real: Any, before: Callable[[Any], Awaitable[None]]):
        self.real, self.before = real, before
        self.name = real.name

    async def generate(self, request: Any) -> Any:
        await self.before(request)
        return await self.real.generate(request)


def wrapping_provider(real_factory: Any, before: Callable[[Any], Awaitable[None]]) -> Any:
    """A `model_provider` factory: the real one's provider, wrapped (see WrappedProvider)."""

    def make(config: Any, client: Any) -> WrappedProvider:
        return WrappedProvider(real_factory(config, client), before)

    return make
