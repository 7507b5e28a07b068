"""KV on a local SQLite file, with Cloudflare's limits and expiry.

Rules enforced like the platform (messages as Miniflare words them):
`expiration_ttl` at least 60 s, keys at most 512 UTF-8 bytes, metadata at most
1024 bytes of JSON, values at most 25 MiB, `list` at most 1000 keys a page,
ordered by key, with an opaque cursor. Expired keys are invisible at once and
removed lazily.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devcapsules.bindings.protocols import KV_MIN_TTL_SECONDS, KVError

MAX_KEY_BYTES = 512
MAX_METADATA_BYTES = 1024
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_LIST_LIMIT = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    metadata TEXT,
    expiration INTEGER
)
"""


class SqliteKV:
    def __init__(self, path: str | Path = ":memory:", clock: Callable[[], float] = time.time):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.execute(_SCHEMA)
        self.clock = clock
        self.lock = threading.RLock()
        self.round_trips = 0

    async def get(self, key: str, type: str = "text") -> Any:
        found = self._read(key)
        return None if found is None else _decode(found[0], type)

    async def get_with_metadata(self, key: str, type: str = "text") -> dict[str, Any]:
        found = self._read(key)
        if found is None:
            return {"value": None, "metadata": None}
        value, metadata = found
        return {"value": _decode(value, type), "metadata": metadata}

    async def put(
        self,
        key: str,
        value: str | bytes,
        *,
        expiration_ttl: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        _check_key(key)
        data = value.encode() if isinstance(value, str) else bytes(value)
        if len(data) > MAX_VALUE_BYTES:
            raise KVError(f"KV PUT failed: 413 Value length exceeds {MAX_VALUE_BYTES}.")
        expiration = self._expiration(expiration_ttl)
        meta_json = _check_metadata(metadata)
        with self.lock:
            self.round_trips += 1
            self.connection.execute(
                "INSERT OR REPLACE INTO kv (key, value, metadata, expiration) VALUES (?, ?, ?, ?)",
                (key, data, meta_json, expiration),
            )

    async def delete(self, key: str) -> None:
        _check_key(key)
        with self.lock:
            self.round_trips += 1
            self.connection.execute("DELETE FROM kv WHERE key = ?", (key,))

    async def list(
        self, *, prefix: str = "", limit: int = MAX_LIST_LIMIT, cursor: str | None = None
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise KVError(f"KV GET failed: 400 Invalid key_count_limit of {limit}.")
        after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else ""
        with self.lock:
            self.round_trips += 1
            rows = self.connection.execute(
                "SELECT key, metadata, expiration FROM kv WHERE key > ? AND substr(key, 1, ?) = ?"
                " AND (expiration IS NULL OR expiration > ?) ORDER BY key LIMIT ?",
                (after, len(prefix), prefix, self.clock(), limit + 1),
            ).fetchall()
        page = rows[:limit]
        keys = [_key_entry(name, meta, exp) for name, meta, exp in page]
        complete = len(rows) <= limit
        result: dict[str, Any] = {"keys": keys, "list_complete": complete}
        if not complete:
            result["cursor"] = base64.urlsafe_b64encode(page[-1][0].encode()).decode()
        return result

    def close(self) -> None:
        self.connection.close()

    def _read(self, key: str) -> tuple[bytes, Any] | None:
        _check_key(key)
        with self.lock:
            self.round_trips += 1
            row = self.connection.execute(
                "SELECT value, metadata, expiration FROM kv WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            value, metadata, expiration = row
            if expiration is not None and expiration <= self.clock():
                self.connection.execute("DELETE FROM kv WHERE key = ?", (key,))
                return None
        return value, json.loads(metadata) if metadata else None

    def _expiration(self, ttl: int | None) -> int | None:
        if ttl is None:
            return None
        if not isinstance(ttl, int) or ttl < KV_MIN_TTL_SECONDS:
            raise KVError(
                f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. "
                f"Expiration TTL must be at least {KV_MIN_TTL_SECONDS}."
            )
        return int(self.clock()) + ttl


def _check_key(key: str) -> None:
    size = len(key.encode())
    if size == 0:
        raise KVError("KV key must not be empty")
    if size > MAX_KEY_BYTES:
        raise KVError(
            f"KV PUT failed: 414 UTF-8 encoded length of {size} exceeds key length limit "
            f"of {MAX_KEY_BYTES}."
        )


def _check_metadata(metadata: dict[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    encoded = json.dumps(metadata, separators=(",", ":"))
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise KVError(f"KV PUT failed: 413 Metadata length exceeds {MAX_METADATA_BYTES} bytes.")
    return encoded


def _key_entry(name: str, metadata: str | None, expiration: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    if expiration is not None:
        entry["expiration"] = expiration
    if metadata:
        entry["metadata"] = json.loads(metadata)
    return entry


def _decode(value: bytes, type: str) -> Any:
    if type == "text":
        return value.decode()
    if type == "json":
        return json.loads(value)
    if type in ("arrayBuffer", "bytes"):
        return bytes(value)
    raise KVError(f'KV get type must be "text", "json" or "arrayBuffer", got {type!r}')
