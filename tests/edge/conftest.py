"""Fixtures for the edge-parity tests: a real Miniflare (via the bridge) per session.

Everything here needs Node and `node_modules` (miniflare, wrangler); without them
the tests skip with the reason, CI always has them (`make install` runs `npm ci`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devcapsules.bindings.env import Env
from devcapsules.bindings.miniflare import (
    DEFAULT_CONFIG,
    MiniflareHandle,
    node_tooling_missing,
    start_miniflare,
)

T = TypeVar("T")

_missing = node_tooling_missing()
needs_node = pytest.mark.skipif(_missing is not None, reason=f"Miniflare unavailable: {_missing}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/edge" in str(item.path):
            item.add_marker(needs_node)


@pytest.fixture(scope="session")
def miniflare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniflareHandle]:
    """One Miniflare for the binding tests; each test uses its own tables and key prefix."""
    handle = start_miniflare(tmp_path_factory.mktemp("miniflare"))
    yield handle
    handle.close()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    """Run a coroutine on this test's loop (HTTP clients are bound to one loop)."""
    return loop.run_until_complete


@pytest.fixture
def mf_env(miniflare: MiniflareHandle, run: Callable[[Awaitable[Any]], Any]) -> Iterator[Env]:
    """An Env whose D1/KV/Queue all go to the session's Miniflare."""
    env = miniflare.env()
    yield env
    run(env.db.client.aclose())


@pytest.fixture
def unique() -> str:
    return "t" + uuid.uuid4().hex[:10]


def fast_consumer_config(directory: Path, batch_timeout: int = 1) -> Path:
    """The repo's wrangler.toml with a shorter max_batch_timeout, so retry and DLQ
    tests finish in seconds; every other binding and consumer setting is unchanged."""
    text = DEFAULT_CONFIG.read_text()
    fast = re.sub(r"max_batch_timeout\s*=\s*\d+", f"max_batch_timeout = {batch_timeout}", text)
    # The copy lives elsewhere: keep migrations_dir pointing at the repo's migrations.
    migrations = DEFAULT_CONFIG.parent / "migrations"
    fast = re.sub(r'migrations_dir\s*=\s*"migrations"', f'migrations_dir = "{migrations}"', fast)
    path = directory / "wrangler.toml"
    path.write_text(fast)
    return path


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result["results"]
