"""Open the bindings the API suite runs against, chosen by DEVCAPSULES_BINDINGS.

- `sqlite` (default): the embedded SQLite bindings, a fresh state dir per test.
- `miniflare`: Miniflare's D1/KV/Queues (one bridge per test session, D1 migrated by
  wrangler itself), emptied between tests. Tests that exercise SQLite internals
  carry the `sqlite_only` mark and are skipped there.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devcapsules.bindings.env import Env
from devcapsules.bindings.sqlite_d1 import SqliteD1
from devcapsules.bindings.sqlite_kv import SqliteKV
from devcapsules.bindings.sqlite_queue import QueueStore, SqliteQueue
from devcapsules.local.migrations import apply_migrations

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "migrations"
BACKENDS = ("sqlite", "miniflare")


def backend() -> str:
    name = os.environ.get("DEVCAPSULES_BINDINGS", "sqlite")
    if name not in BACKENDS:
        raise RuntimeError(f"DEVCAPSULES_BINDINGS must be one of {BACKENDS}, got {name!r}")
    return name


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


_miniflare_handle = None


def shared_miniflare():
    """One Miniflare bridge for the whole test session (start-up costs seconds)."""
    global _miniflare_handle
    if _miniflare_handle is None:
        from devcapsules.bindings.miniflare import start_miniflare

        state = Path(tempfile.mkdtemp(prefix="devcapsules-mf-"))
        _miniflare_handle = start_miniflare(state, None, migrate=True)
        atexit.register(_miniflare_handle.close)
    return _miniflare_handle


@contextlib.contextmanager
def open_miniflare_env(vars: dict[str, str], loop) -> Iterator[Env]:
    from devcapsules.bindings.miniflare_backend import reset_state

    env = shared_miniflare().env(vars)
    loop.run_until_complete(reset_state(env))  # empty tables and KV; the schema stays
    try:
        yield env
    finally:
        loop.run_until_complete(env.db.client.aclose())


@contextlib.contextmanager
def open_test_env(state: Path, vars: dict[str, str], loop) -> Iterator[Env]:
    if backend() == "miniflare":
        with open_miniflare_env(vars, loop) as env:
            yield env
    else:
        with open_sqlite_env(state, vars) as env:
            yield env
