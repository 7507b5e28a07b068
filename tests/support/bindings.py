"""Open the bindings the API suite runs against, chosen by DEVCAPSULES_BINDINGS."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from devcapsules.bindings.env import Env
from devcapsules.bindings.sqlite_d1 import SqliteD1
from devcapsules.bindings.sqlite_kv import SqliteKV
from devcapsules.bindings.sqlite_queue import QueueStore, SqliteQueue
from devcapsules.local.migrations import apply_migrations

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "migrations"


def backend() -> str:
    return os.environ.get("DEVCAPSULES_BINDINGS", "sqlite")


@contextlib.contextmanager
def open_sqlite_env(state: Path, vars: dict[str, str]) -> Iterator[Env]:
    db = SqliteD1(state / "DB.sqlite3")
    apply_migrations(db.connection, MIGRATIONS)
    kv = SqliteKV(state / "KV.sqlite3")
    store = QueueStore(state / "queues.sqlite3")
    queue = SqliteQueue(store, "generation-jobs")
    try:
        yield Env(vars=dict(vars), db=db, kv=kv, generation_queue=queue)
    finally:
        db.close()
        kv.close()
        store.close()


@contextlib.contextmanager
def open_test_env(state: Path, vars: dict[str, str], loop) -> Iterator[Env]:
    if backend() == "sqlite":
        with open_sqlite_env(state, vars) as env:
            yield env
        return
    raise RuntimeError(f"Unknown DEVCAPSULES_BINDINGS backend {backend()!r}")
