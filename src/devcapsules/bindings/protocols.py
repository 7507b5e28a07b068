"""The binding surface the application may use, mirroring Cloudflare's APIs.

Three hosts implement these: the edge adapter (real D1/KV/Queues through the
`workers` SDK), the embedded SQLite host (`bindings.sqlite`), and Miniflare's
simulators. Application code types against these Protocols only, so a call that
works in the test suite is a call the platform accepts.

Result shapes follow D1: `all()`/`run()` answer
`{"results": [...], "success": True, "meta": {"changes", "last_row_id", ...}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

# D1 refuses statements with more bound parameters than this.
D1_MAX_BOUND_PARAMETERS = 100
# Cloudflare KV refuses an expirationTtl below 60 seconds.
KV_MIN_TTL_SECONDS = 60
# Cloudflare Queues refuse a message body over 128 KB, counted as 128,000 bytes
# (Miniflare's simulator measures the serialised body against exactly this).
QUEUE_MAX_MESSAGE_BYTES = 128_000
# Cloudflare Queues accept at most 100 messages per sendBatch call.
QUEUE_MAX_BATCH_MESSAGES = 100


class BindingError(Exception):
    """A binding refused a call, the way the platform would (bad TTL, SQL error...)."""


class D1Error(BindingError):
    """D1 rejected a statement. The message starts with `D1_ERROR` like the platform's."""


class KVError(BindingError):
    """KV refused or failed a call."""


class QueueError(BindingError):
    """A queue producer refused or failed a send."""


@runtime_checkable
class PreparedStatement(Protocol):
    def bind(self, *values: Any) -> PreparedStatement: ...
    async def first(self, column: str | None = None) -> Any: ...
    async def all(self) -> dict[str, Any]: ...
    async def run(self) -> dict[str, Any]: ...
    async def raw(self, column_names: bool = False) -> list[list[Any]]: ...


@runtime_checkable
class Database(Protocol):
    """A D1 database binding."""

    def prepare(self, sql: str) -> PreparedStatement: ...
    async def batch(self, statements: Sequence[PreparedStatement]) -> list[dict[str, Any]]: ...
    async def exec(self, sql: str) -> dict[str, Any]: ...


@runtime_checkable
class KVNamespace(Protocol):
    """A KV namespace binding: eventually consistent, never use it as a counter."""

    async def get(self, key: str, type: str = "text") -> Any: ...
    async def get_with_metadata(self, key: str, type: str = "text") -> dict[str, Any]: ...
    async def put(
        self,
        key: str,
        value: str | bytes,
        *,
        expiration_ttl: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def list(
        self, *, prefix: str = "", limit: int = 1000, cursor: str | None = None
    ) -> dict[str, Any]: ...


@runtime_checkable
class Queue(Protocol):
    """A queue producer binding. Bodies are JSON-serialisable values."""

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None: ...
    async def send_batch(self, messages: Sequence[dict[str, Any]]) -> None: ...


@runtime_checkable
class Message(Protocol):
    """One delivered queue message. Delivery is at-least-once."""

    id: str
    body: Any
    attempts: int
    timestamp: float

    def ack(self) -> None: ...
    def retry(self, *, delay_seconds: int | None = None) -> None: ...


@runtime_checkable
class MessageBatch(Protocol):
    queue: str
    messages: Sequence[Message]

    def ack_all(self) -> None: ...
    def retry_all(self, *, delay_seconds: int | None = None) -> None: ...
