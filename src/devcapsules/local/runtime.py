"""Open the local bindings for a state directory and wire them into an `Env`.

Layout of the state dir (everything the local host keeps between runs):
  d1/DB.sqlite3        the D1 database (migrated at start)
  kv/KV.sqlite3        the KV namespace
  queues.sqlite3       every queue's messages, in-flight ones leased
  dev-secrets.json     the generated development JWT secret
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcapsules.bindings.env import GENERATION_QUEUE_BINDING, Env
from devcapsules.bindings.sqlite_d1 import SqliteD1
from devcapsules.bindings.sqlite_kv import SqliteKV
from devcapsules.bindings.sqlite_queue import QueueStore, SqliteQueue
from devcapsules.local.config import LocalConfig
from devcapsules.local.migrations import apply_migrations
from devcapsules.logs import Logger

DEFAULT_STATE_DIR = ".state"
BACKEND_VARIABLE = "DEVCAPSULES_BINDINGS"


@dataclass
class LocalRuntime:
    """The local bindings. With the SQLite backend `env` is ready at once; with the
    Miniflare backend it exists only inside `running_env` (Miniflare runs in Node)."""

    env: Env | None
    config: LocalConfig
    state_dir: Path
    queue_store: QueueStore | None = None
    closers: list[Any] = field(default_factory=list)
    backend: str = "sqlite"
    environment: str | None = None

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()


def chosen_backend() -> str:
    name = os.environ.get(BACKEND_VARIABLE, "sqlite")
    if name not in ("sqlite", "miniflare"):
        raise ValueError(f"{BACKEND_VARIABLE} must be 'sqlite' or 'miniflare', got {name!r}")
    return name


@contextlib.asynccontextmanager
async def running_env(
    runtime: LocalRuntime, consumer: Callable[[Any], Awaitable[None]] | None = None
) -> AsyncIterator[Env]:
    """The Env to serve from. On Miniflare, delivered batches go to `consumer`: Miniflare's
    own queue consumer does the batching, retries and dead-lettering."""
    if runtime.backend == "sqlite":
        assert runtime.env is not None
        yield runtime.env
        return
    from devcapsules.bindings.miniflare_backend import MiniflareBackend

    backend = MiniflareBackend(
        runtime.state_dir / "miniflare",
        config=runtime.config.root / "wrangler.toml",
        environment=runtime.environment,
    )
    env = await backend.start(runtime.config.vars, consumer=consumer)
    runtime.env = env
    try:
        yield env
    finally:
        await backend.close()


def resolve_state_dir(explicit: str | None, root: Path) -> Path:
    raw = explicit or os.environ.get("DEVCAPSULES_STATE_DIR") or str(root / DEFAULT_STATE_DIR)
    path = Path(raw).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot use {path} as the state directory: {exc.strerror}") from exc
    return path


def open_sqlite_runtime(config: LocalConfig, state_dir: Path, logger: Logger) -> LocalRuntime:
    db = SqliteD1(state_dir / "d1" / "DB.sqlite3")
    if config.migrations_dir is not None:
        applied = apply_migrations(db.connection, config.migrations_dir)
        if applied:
            logger.info("migrations_applied", migrations=applied)
    kv = SqliteKV(state_dir / "kv" / "KV.sqlite3")
    store = QueueStore(state_dir / "queues.sqlite3")
    queue_name = config.producers.get(GENERATION_QUEUE_BINDING)
    queue = SqliteQueue(store, queue_name) if queue_name else None
    env = Env(vars=dict(config.vars), db=db, kv=kv, generation_queue=queue)
    return LocalRuntime(env, config, state_dir, store, [db.close, kv.close, store.close])


def ensure_dev_secret(config: LocalConfig, state_dir: Path, logger: Logger) -> None:
    """In development only: a missing JWT_SECRET is generated once and kept in the state dir."""
    environment = config.vars.get("ENVIRONMENT", "development")
    if environment != "development" or config.vars.get("JWT_SECRET"):
        return
    path = state_dir / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.is_file() else {}
    if "JWT_SECRET" not in stored:
        stored["JWT_SECRET"] = secrets.token_urlsafe(48)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    config.vars["JWT_SECRET"] = stored["JWT_SECRET"]
    logger.warn(
        "dev_jwt_secret",
        message="JWT_SECRET is not set; using a generated development secret",
        path=str(path),
    )
