"""The backend the local host uses for DEVCAPSULES_BINDINGS=miniflare."""

from __future__ import annotations

import asyncio

from devcapsules.bindings.env import GENERATION_QUEUE
from devcapsules.bindings.miniflare_backend import MiniflareBackend
from tests.edge.conftest import fast_consumer_config


def test_start_migrate_consume_reset_close(tmp_path, run):
    delivered = []

    async def consumer(batch):
        delivered.extend((batch.queue, m.body) for m in batch.messages)
        batch.ack_all()

    async def body():
        backend = MiniflareBackend(tmp_path / "state", config=fast_consumer_config(tmp_path))
        env = await backend.start({"ENVIRONMENT": "development"}, consumer)
        try:
            # wrangler applied our migrations to Miniflare's D1 before the bridge started
            applied = await env.db.prepare("SELECT name FROM d1_migrations").raw()
            assert ["0001_initial_schema.sql"] in applied
            table = "reset_probe"
            await env.db.exec(f"CREATE TABLE {table} (x INTEGER)")
            await env.db.prepare(f"INSERT INTO {table} VALUES (1)").run()
            await env.kv.put("k", "v")
            await env.generation_queue.send({"jobId": "j"})
            for _ in range(200):
                if delivered:
                    break
                await asyncio.sleep(0.05)
            await backend.reset()
            count = await env.db.prepare(f"SELECT count(*) AS c FROM {table}").first("c")
            return count, await env.kv.get("k")
        finally:
            await backend.close()

    count, value = run(body())
    assert delivered == [(GENERATION_QUEUE, {"jobId": "j"})]
    assert count == 0 and value is None
