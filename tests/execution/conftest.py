"""Fixtures: the real executor service and a Piston v2 stand-in, both over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devcapsules.executor_service.app import ServiceConfig
from devcapsules.executor_service.server import make_asgi
from devcapsules.logs import Logger
from tests.conftest import LogCapture
from tests.execution.servers import SERVICE_KEY, FakePiston, serve_in_thread


@pytest.fixture
def service_logs() -> LogCapture:
    return LogCapture()


@pytest.fixture
def executor_service(service_logs: LogCapture) -> Iterator[str]:
    """`devcapsules executor serve` in-thread: same app, same ASGI adapter, real HTTP."""
    config = ServiceConfig(api_key=SERVICE_KEY, concurrency=2, queue_depth=2)
    with serve_in_thread(make_asgi(config, Logger(sink=service_logs))) as url:
        yield url


@pytest.fixture
def fake_piston() -> FakePiston:
    return FakePiston()


@pytest.fixture
def piston_url(fake_piston: FakePiston) -> Iterator[str]:
    with serve_in_thread(fake_piston) as url:
        yield url
