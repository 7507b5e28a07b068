"""`DEVCAPSULES_BINDINGS=miniflare`: the local host (and the API suite) on Miniflare.

One object owns the pieces: the consumer callback server (on the caller's event
loop), the bridge process (Miniflare + workerd, bindings from wrangler.toml, D1
migrated by wrangler itself) and the `Env` whose bindings talk to it.

    backend = MiniflareBackend(state_dir)
    env = await backend.start(vars, consumer=lambda batch: app.handle_batch(batch, env))
    ...
    await backend.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from devcapsules.bindings.env import Env
from devcapsules.bindings.miniflare import MiniflareHandle, MiniflareKV, start_miniflare
from devcapsules.bindings.miniflare_consumer import BatchHandler, QueueCallbackServer

# Tables D1/wrangler/SQLite keep for themselves: never wiped by `reset`.
_SYSTEM_TABLES = ("d1_migrations", "sqlite_%", "_cf_%")


class MiniflareBackend:
    def __init__(
        self,
        state_dir: str | Path,
        *,
        config: str | Path | None = None,
        environment: str | None = None,
        migrate: bool = True,
    ):
        self.state_dir = Path(state_dir)
        self.config = config
        self.environment = environment
        self.migrate = migrate
        self.handle: MiniflareHandle | None = None
        self.server: QueueCallbackServer | None = None
        self.env: Env | None = None

    async def start(self, vars: Mapping[str, str], consumer: BatchHandler | None = None) -> Env:
        """Start Miniflare; delivered batches go to `consumer` on this event loop."""
        callback_url = None
        if consumer is not None:
            self.server = QueueCallbackServer(consumer)
            callback_url = await self.server.start()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.handle = await asyncio.to_thread(
            start_miniflare,
            self.state_dir,
            callback_url,
            config=self.config,
            environment=self.environment,
            migrate=self.migrate,
        )
        self.env = self.handle.env(dict(vars))
        return self.env

    async def reset(self) -> None:
        """Empty every application table and KV key (between tests; schema stays)."""
        assert self.env is not None
        await reset_state(self.env)

    async def close(self) -> None:
        if self.env is not None and self.env.db is not None:
            await self.env.db.client.aclose()
        if self.handle is not None:
            await asyncio.to_thread(self.handle.close)
        if self.server is not None:
            await self.server.close()
        self.env = self.handle = self.server = None


async def reset_state(env: Env) -> None:
    """Empty every application table (foreign keys deferred) and every KV key."""
    assert env.db is not None and env.kv is not None
    exclude = " AND ".join(f"name NOT LIKE '{pattern}'" for pattern in _SYSTEM_TABLES)
    tables = await env.db.prepare(
        f"SELECT name FROM sqlite_master WHERE type = 'table' AND {exclude}"
    ).raw()
    statements = [env.db.prepare("PRAGMA defer_foreign_keys = ON")]
    statements += [env.db.prepare(f'DELETE FROM "{name}"') for (name,) in tables]
    await env.db.batch(statements)
    await _delete_all_keys(env.kv)


async def _delete_all_keys(kv: MiniflareKV) -> None:
    while True:
        page = await kv.list(limit=1000)
        for key in page["keys"]:
            await kv.delete(key["name"])
        if page["list_complete"]:
            return
