"""Generation consumer: throughput, and what concurrency buys against model latency.

    .venv/bin/python bench/bench_generation.py [--jobs 50]

Jobs are inserted straight into D1 (local SQLite) and their messages delivered through
`app.handle_batch` in batches of 10, as the queue would. Each job is the real work: a
model call to a fake Azure OpenAI server on loopback (tests/generation/fake_model.py),
schema validation, two sandbox runs (reference solution and starter), the capsule
insert and the job's completion. Rows:

1. throughput with a zero-latency model (jobs/s): the consumer's own cost plus the sandbox;
2. one batch of 10 with a 200 ms model, concurrency 10 (the default) vs 1: with the
   default the batch takes about one model latency more than with a zero-latency model,
   not ten.
Figures are printed; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devcapsules.app import build_app  # noqa: E402
from devcapsules.bindings.env import Env  # noqa: E402
from devcapsules.bindings.sqlite_d1 import SqliteD1  # noqa: E402
from devcapsules.bindings.sqlite_kv import SqliteKV  # noqa: E402
from devcapsules.bindings.sqlite_queue import (  # noqa: E402
    LocalMessage,
    LocalMessageBatch,
    QueueStore,
    SqliteQueue,
)
from devcapsules.context import Context  # noqa: E402
from devcapsules.local.migrations import apply_migrations  # noqa: E402
from devcapsules.logs import Logger  # noqa: E402
from devcapsules.services.accounts import sessions  # noqa: E402
from devcapsules.services.generation import jobs  # noqa: E402
from devcapsules.settings import Settings  # noqa: E402
from tests.generation.conftest import good_capsule  # noqa: E402
from tests.generation.fake_model import FakeModel  # noqa: E402

BATCH = 10


def open_env(state: Path, vars: dict[str, str]) -> Env:
    db = SqliteD1(state / "DB.sqlite3")
    apply_migrations(db.connection, ROOT / "migrations")
    store = QueueStore(state / "queues.sqlite3")
    queue = SqliteQueue(store, "generation-jobs")
    return Env(vars=vars, db=db, kv=SqliteKV(state / "KV.sqlite3"), generation_queue=queue)


async def make_jobs(ctx: Context, user_id: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        job_id = jobs.new_job_id(ctx.deps.clock.now(), ctx.deps.ids)
        await jobs.insert(
            ctx.env.db,
            job_id=job_id,
            user_id=user_id,
            prompt="Reverse a string",
            language="python",
            difficulty="easy",
            now=ctx.deps.clock.now(),
        )
        ids.append(job_id)
    return ids


async def run_batches(app, env: Env, job_ids: list[str]) -> float:
    """Seconds to deliver every job in batches of 10 (one handle_batch per batch)."""
    started = time.perf_counter()
    for i in range(0, len(job_ids), BATCH):
        chunk = job_ids[i : i + BATCH]
        messages = [LocalMessage(f"m{j}", {"jobId": j, "v": 1}, 1, 0.0) for j in chunk]
        await app.handle_batch(LocalMessageBatch("generation-jobs", messages), env)
        undone = [m for m in messages if m.decision != ("ack", 0)]
        if undone:
            raise RuntimeError(f"{len(undone)} messages not acked: {undone[0].decision}")
    return time.perf_counter() - started


async def scenario(model: FakeModel, count: int, latency: float, concurrency: int) -> float:
    model.latency = latency
    with tempfile.TemporaryDirectory() as tmp:
        vars = {
            "ENVIRONMENT": "development",
            "JWT_SECRET": "bench-" + "x" * 40,
            "LOG_LEVEL": "error",
            "GENERATION_CONCURRENCY": str(concurrency),
            **model.vars(GENERATION_MODEL_TIMEOUT_SECONDS="30"),
        }
        env = open_env(Path(tmp), vars)
        app = build_app(Settings.from_vars(vars), logger=Logger(level="error"))
        ctx = app.context(env)
        user = await sessions.create_user(ctx, "bench@example.com", "Bench", "x")
        job_ids = await make_jobs(ctx, user.id, count)
        seconds = await run_batches(app, env, job_ids)
        done = await env.db.prepare(
            "SELECT count(*) AS n FROM generation_jobs WHERE status = 'completed'"
        ).first("n")
        assert done == count, f"{done}/{count} completed"
        return seconds


async def main(count: int) -> None:
    with FakeModel(default=good_capsule()) as model:
        await scenario(model, BATCH, 0.0, BATCH)  # warm-up: toolchain discovery, page cache
        seconds = await scenario(model, count, 0.0, BATCH)
        print(f"throughput, zero-latency model: {count} jobs in {seconds:.2f} s "
              f"= {count / seconds:.1f} jobs/s")  # fmt: skip
        base = await scenario(model, BATCH, 0.0, BATCH)
        slow = await scenario(model, BATCH, 0.2, BATCH)
        serial = await scenario(model, BATCH, 0.2, 1)
        print(f"batch of {BATCH}, 0 ms model, concurrency {BATCH}:   {base * 1000:7.0f} ms")
        print(f"batch of {BATCH}, 200 ms model, concurrency {BATCH}: {slow * 1000:7.0f} ms "
              f"(+{(slow - base) * 1000:.0f} ms vs the 0 ms model: ~one latency)")  # fmt: skip
        print(f"batch of {BATCH}, 200 ms model, concurrency 1:  {serial * 1000:7.0f} ms "
              f"(+{(serial - base) * 1000:.0f} ms: ten latencies, sequential)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    asyncio.run(main(parser.parse_args().jobs))
