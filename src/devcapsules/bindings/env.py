"""What a host hands the app: the bindings by role, plus the raw vars and secrets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from devcapsules.bindings.protocols import Database, KVNamespace, Queue

# Binding names as declared in wrangler.toml; hosts look them up by these names.
DB_BINDING = "DB"
KV_BINDING = "KV"
GENERATION_QUEUE_BINDING = "GENERATION_QUEUE"
GENERATION_QUEUE = "generation-jobs"
GENERATION_DLQ = "generation-dlq"


@dataclass
class Env:
    vars: Mapping[str, str] = field(default_factory=dict)
    db: Database | None = None
    kv: KVNamespace | None = None
    generation_queue: Queue | None = None
    # PBKDF2-SHA256 (password, salt, iterations, length) -> bytes. The edge passes Web
    # Crypto's (hashlib lacks pbkdf2_hmac in Pyodide); None means hashlib, locally.
    pbkdf2: Callable[[bytes, bytes, int, int], Awaitable[bytes]] | None = None
