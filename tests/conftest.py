"""Shared fixtures: real local bindings (SQLite on disk) and an in-process client.

`DEVCAPSULES_BINDINGS=miniflare` runs the same API tests against Miniflare's
simulators instead (see tests/edge and the Makefile's test-miniflare target).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcapsules.app import App, build_app
from devcapsules.bindings.env import Env
from devcapsules.http import Headers, Request, Response
from devcapsules.logs import Logger
from devcapsules.routing import Route
from devcapsules.settings import Settings
from tests.support.bindings import backend, open_test_env
from tests.support.bodies import checking_render

ROOT = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def pytest_collection_modifyitems(config, items):
    if backend() == "sqlite":
        return
    skip = pytest.mark.skip(reason=f"exercises SQLite internals; bindings are {backend()}")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


class LogCapture:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __call__(self, line: str) -> None:
        self.lines.append(json.loads(line))

    def actions(self) -> list[str]:
        return [line["action"] for line in self.lines]


class Client:
    """Calls `app.handle` in-process, on one event loop that lives as long as the test."""

    def __init__(self, app: App, env: Env, loop: asyncio.AbstractEventLoop):
        self.app, self.env, self.loop = app, env, loop

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        client_ip: str = "203.0.113.9",
    ) -> Response:
        all_headers = Headers(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("content-type", "application/json")
        request = Request(method, f"http://testserver{path}", all_headers, body, client_ip)
        return self.run(self.app.handle(request, self.env))

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, json_body=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", path, json_body=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def inject(self, **fakes: Any) -> None:
        """Rebuild the app with some of its dependencies (`context.Dependencies`) replaced:
        the injection point, instead of patching module attributes."""
        deps = dataclasses.replace(self.app.deps, **fakes)
        self.app = build_app(self.app.settings, logger=self.app.logger, dependencies=deps)

    def reconfigure(self, **vars: str) -> None:
        """Rebuild the app from the env's vars plus these (settings are read at build)."""
        self.env.vars.update(vars)
        settings = Settings.from_vars(self.env.vars)
        self.app = build_app(settings, logger=self.app.logger)

    def context(self) -> Any:
        """A context of this app, as a request gets one: for calling services directly."""
        return self.app.context(self.env)

    def settle(self) -> None:
        """Let `wait_until` work finish before asserting on its effects."""
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


@pytest.fixture(autouse=True)
def bodies_from_models(monkeypatch) -> None:
    """Every success body any test receives is checked against its route's model."""
    monkeypatch.setattr(Route, "render", checking_render(Route.render))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


@pytest.fixture
def test_vars() -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "ALLOWED_ORIGINS": "http://localhost:3000",
        "JWT_SECRET": TEST_JWT_SECRET,
        "LOG_LEVEL": "debug",
        # Fewer PBKDF2 rounds keep the suite fast; the format records the count, and
        # tests/auth checks the production default separately.
        "PBKDF2_ITERATIONS": "1000",
        # The suite registers many users from one client IP (anonymous = free numbers):
        # headroom here; tests/limits sets small limits explicitly. Production is untouched.
        "PLAN_FREE_REQUESTS_PER_MINUTE": "100000",
        "PLAN_FREE_REQUESTS_PER_DAY": "1000000",
    }


@pytest.fixture
def env(tmp_path: Path, test_vars: dict[str, str], loop) -> Iterator[Env]:
    with open_test_env(tmp_path, test_vars, loop) as opened:
        yield opened


@pytest.fixture
def logs() -> LogCapture:
    return LogCapture()


@pytest.fixture
def app(env: Env, logs: LogCapture) -> App:
    settings = Settings.from_vars(env.vars)
    return build_app(settings, logger=Logger(level=settings.logging.level, sink=logs))


@pytest.fixture
def client(app: App, env: Env, loop) -> Client:
    return Client(app, env, loop)
