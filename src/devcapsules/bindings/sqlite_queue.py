"""Cloudflare Queues on a local SQLite file: producer, persisted store, and broker.

Semantics follow the platform (and Miniflare's simulator of it):
- bodies are JSON values up to 128 KB; `delay_seconds` up to 12 hours;
- a consumer gets batches of at most `max_batch_size`, delivered when the batch is
  full or its oldest message has waited `max_batch_timeout` seconds;
- each delivery counts an attempt; `ack()` removes a message, `retry()` makes it
  visible again after its delay; a handler that returns acks every message it did
  not retry, a handler that raises retries every message it did not ack;
- after `max_retries` retries a message goes to the dead-letter queue (or is dropped);
- in-flight messages are leased, so a crash of the host redelivers them on restart:
  nothing acknowledged is redelivered, nothing unacknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcapsules.bindings.protocols import (
    QUEUE_MAX_BATCH_MESSAGES,
    QUEUE_MAX_MESSAGE_BYTES,
    QueueError,
)

MAX_DELAY_SECONDS = 12 * 60 * 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_messages_due ON queue_messages (queue, leased, visible_at);
"""


@dataclass(frozen=True)
class ConsumerSettings:
    """One `[[queues.consumers]]` entry of wrangler.toml."""

    queue: str
    max_batch_size: int = 10
    max_batch_timeout: float = 5.0
    max_retries: int = 3
    dead_letter_queue: str | None = None
    retry_delay: int = 0


class QueueStore:
    """Every queue's messages in one SQLite file; each method is one short transaction."""

    def __init__(self, path: str | Path = ":memory:", clock: Callable[[], float] = time.time):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.executescript(_SCHEMA)
        self.clock = clock
        self.lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Have `listener` called, on the writer's thread, after every write that may
        bring a batch forward (a send, a retry, a dead-lettering, the start-up release);
        returns the call that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def enqueue(self, queue: str, bodies: Sequence[tuple[str, int]], attempts: int = 0) -> None:
        now = self.clock()
        rows = [(_message_id(), queue, body, attempts, now, now + delay) for body, delay in bodies]
        with self.lock:
            self.connection.executemany(
                "INSERT INTO queue_messages (id, queue, body, attempts, created_at, visible_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._changed()

    def due(self, queue: str) -> tuple[int, float | None]:
        """How many messages are visible now, and when the oldest of them was sent."""
        with self.lock:
            count, oldest = self.connection.execute(
                "SELECT count(*), min(created_at) FROM queue_messages"
                " WHERE queue = ? AND leased = 0 AND visible_at <= ?",
                (queue, self.clock()),
            ).fetchone()
        return count, oldest

    def schedule(self, queue: str, now: float) -> tuple[int, float | None, float | None]:
        """`due`'s two figures at `now`, and when the next message not visible by then
        (delayed, or retried with a delay) becomes visible: what the broker waits for."""
        with self.lock:
            return self.connection.execute(
                "SELECT coalesce(sum(visible_at <= ?1), 0),"
                " min(CASE WHEN visible_at <= ?1 THEN created_at END),"
                " min(CASE WHEN visible_at > ?1 THEN visible_at END)"
                " FROM queue_messages WHERE queue = ?2 AND leased = 0",
                (now, queue),
            ).fetchone()

    def lease(self, queue: str, limit: int) -> list[tuple[str, str, int, float]]:
        """Take up to `limit` visible messages for delivery, counting the attempt."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            rows = self.connection.execute(
                "SELECT id, body, attempts + 1, created_at FROM queue_messages"
                " WHERE queue = ? AND leased = 0 AND visible_at <= ?"
                " ORDER BY visible_at, created_at LIMIT ?",
                (queue, self.clock(), limit),
            ).fetchall()
            self.connection.executemany(
                "UPDATE queue_messages SET leased = 1, attempts = attempts + 1 WHERE id = ?",
                [(row[0],) for row in rows],
            )
            self.connection.execute("COMMIT")
        return rows

    def ack(self, message_id: str) -> None:
        with self.lock:
            self.connection.execute("DELETE FROM queue_messages WHERE id = ?", (message_id,))

    def release(self, message_id: str, delay: int) -> None:
        with self.lock:
            self.connection.execute(
                "UPDATE queue_messages SET leased = 0, visible_at = ? WHERE id = ?",
                (self.clock() + delay, message_id),
            )
        self._changed()

    def move(self, message_id: str, queue: str) -> None:
        """Dead-letter a message: a fresh message on `queue`, attempts reset."""
        with self.lock:
            self.connection.execute(
                "UPDATE queue_messages SET queue = ?, leased = 0, attempts = 0, visible_at = ?"
                " WHERE id = ?",
                (queue, self.clock(), message_id),
            )
        self._changed()

    def release_all_leases(self) -> int:
        """At host start-up: whatever was in flight when the host stopped is delivered again."""
        with self.lock:
            released = self.connection.execute(
                "UPDATE queue_messages SET leased = 0 WHERE leased = 1"
            ).rowcount
        self._changed()
        return released

    def pending(self, queue: str) -> int:
        with self.lock:
            return self.connection.execute(
                "SELECT count(*) FROM queue_messages WHERE queue = ?", (queue,)
            ).fetchone()[0]

    def close(self) -> None:
        self.connection.close()


class SqliteQueue:
    """The producer binding for one queue."""

    def __init__(self, store: QueueStore, queue: str):
        self.store = store
        self.queue = queue
        self.round_trips = 0

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        self.round_trips += 1
        self.store.enqueue(self.queue, [_encode(body, delay_seconds)])

    async def send_batch(self, messages: Sequence[dict[str, Any]]) -> None:
        if len(messages) > QUEUE_MAX_BATCH_MESSAGES:
            raise QueueError(
                f"Queue sendBatch failed: at most {QUEUE_MAX_BATCH_MESSAGES} messages per batch"
            )
        encoded = [_encode(m["body"], m.get("delaySeconds")) for m in messages]
        self.round_trips += 1
        self.store.enqueue(self.queue, encoded)


def _encode(body: Any, delay_seconds: int | None) -> tuple[str, int]:
    try:
        text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QueueError(f"Queue send failed: body is not serialisable: {exc}") from None
    if len(text.encode()) > QUEUE_MAX_MESSAGE_BYTES:
        raise QueueError(
            f"Queue send failed: message length {len(text.encode())} bytes exceeds limit "
            f"of {QUEUE_MAX_MESSAGE_BYTES} bytes"
        )
    delay = delay_seconds or 0
    if not 0 <= delay <= MAX_DELAY_SECONDS:
        raise QueueError(f"Queue send failed: delaySeconds must be 0..{MAX_DELAY_SECONDS}")
    return text, delay


@dataclass
class LocalMessage:
    id: str
    body: Any
    attempts: int
    timestamp: float
    decision: tuple[str, int] | None = None

    def ack(self) -> None:
        self.decision = ("ack", 0)

    def retry(self, *, delay_seconds: int | None = None) -> None:
        self.decision = ("retry", -1 if delay_seconds is None else delay_seconds)


@dataclass
class LocalMessageBatch:
    queue: str
    messages: list[LocalMessage] = field(default_factory=list)

    def ack_all(self) -> None:
        for message in self.messages:
            message.ack()

    def retry_all(self, *, delay_seconds: int | None = None) -> None:
        for message in self.messages:
            message.retry(delay_seconds=delay_seconds)


BatchHandler = Callable[[LocalMessageBatch], Awaitable[None]]


class QueueBroker:
    """Delivers persisted messages to a consumer handler per the consumer settings."""

    def __init__(
        self,
        store: QueueStore,
        consumers: Sequence[ConsumerSettings],
        handler: BatchHandler,
        on_error: Callable[[str, BaseException], None] | None = None,
    ):
        self.store = store
        self.consumers = list(consumers)
        self.handler = handler
        self.on_error = on_error or (lambda queue, exc: None)

    async def deliver_due(self, *, force: bool = False) -> int:
        """Deliver every batch that is due (or every waiting message if `force`)."""
        delivered = 0
        for consumer in self.consumers:
            # Only what was due when the pass began: a message retried without delay
            # waits for the next pass instead of spinning here.
            budget = self.store.due(consumer.queue)[0]
            while budget > 0 and self._batch_due(consumer, force):
                count = await self._deliver(consumer)
                delivered += count
                budget -= count
        return delivered

    def _batch_due(self, consumer: ConsumerSettings, force: bool) -> bool:
        count, wait = self._next_batch_in(consumer)
        return count > 0 and (force or wait == 0)

    def _next_batch_in(self, consumer: ConsumerSettings) -> tuple[int, float | None]:
        """(visible messages, seconds until `consumer`'s next batch is due: 0 now, None
        while nothing waits), by the store's clock: a full batch at once, a partial one
        when its oldest message has waited `max_batch_timeout`, a delayed one when it
        shows. The one rule both a pass and the sleep after it follow."""
        # One reading of the clock for the query and the waits: a message shown in
        # between must not count as a batch due now.
        now, waits = self.store.clock(), []
        count, oldest, later = self.store.schedule(consumer.queue, now)
        if count >= consumer.max_batch_size:
            waits.append(0.0)
        elif count:
            waits.append((oldest or now) + consumer.max_batch_timeout - now)
        if later is not None:
            waits.append(later - now)
        return count, max(0.0, min(waits)) if waits else None

    async def _deliver(self, consumer: ConsumerSettings) -> int:
        rows = self.store.lease(consumer.queue, consumer.max_batch_size)
        messages = [LocalMessage(mid, json.loads(body), n, ts) for mid, body, n, ts in rows]
        batch = LocalMessageBatch(consumer.queue, messages)
        failed = False
        try:
            await self.handler(batch)
        except Exception as exc:
            failed = True
            self.on_error(consumer.queue, exc)
        for message in messages:
            self._settle(consumer, message, failed)
        return len(messages)

    def _settle(self, consumer: ConsumerSettings, message: LocalMessage, failed: bool) -> None:
        action, delay = message.decision or (("retry", -1) if failed else ("ack", 0))
        if action == "ack":
            self.store.ack(message.id)
        elif message.attempts > consumer.max_retries:
            if consumer.dead_letter_queue:
                self.store.move(message.id, consumer.dead_letter_queue)
            else:
                self.store.ack(message.id)
        else:
            self.store.release(message.id, consumer.retry_delay if delay < 0 else delay)

    async def run(self, stop: asyncio.Event, max_wait: float = 1.0) -> None:
        """Deliver until `stop` (an asyncio.Event) is set: each batch when it falls due,
        woken by this process's sends and retries instead of polling the store (an idle
        host then makes one pass a `max_wait`, which bounds how late a write from another
        process, or a clock that jumps, is seen)."""
        self.store.release_all_leases()  # before listening: the first pass sees them
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        unsubscribe = self.store.subscribe(lambda: _set_soon(loop, changed))
        try:
            while not stop.is_set():
                changed.clear()  # before the pass: a write during it brings the next one
                await self.deliver_due()
                wait = self.seconds_to_next_batch()
                await _first_set(stop, changed, max_wait if wait is None else min(wait, max_wait))
        finally:
            unsubscribe()

    def seconds_to_next_batch(self) -> float | None:
        """Until the first consumer's next batch is due (`_next_batch_in`), or None."""
        waits = [wait for c in self.consumers if (wait := self._next_batch_in(c)[1]) is not None]
        return min(waits) if waits else None


def _set_soon(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    # A send may come from another thread (the executor pool, a bench); a closed loop
    # has no broker left to wake.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(event.set)


async def _first_set(first: asyncio.Event, second: asyncio.Event, timeout: float) -> None:
    """Wait until either event is set, or `timeout` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in (first, second)]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _message_id() -> str:
    return secrets.token_hex(16)
