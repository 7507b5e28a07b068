"""The CPython end of Miniflare's queue consumer.

Miniflare delivers each batch to the bridge worker's `queue()` handler (its own
batching, retries and dead-lettering); the bridge POSTs the batch here as JSON.
`QueueCallbackServer` turns it into a `MessageBatch`, awaits the app's consumer,
and answers the ack/retry calls it made, in order, for the bridge to replay on the
real batch. A consumer that raises answers `ok: false`, so the platform's rule
applies: every message not explicitly acked is retried.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from devcapsules.bindings.miniflare import decode
from devcapsules.bindings.protocols import MessageBatch

BatchHandler = Callable[[MessageBatch], Awaitable[None]]
MAX_BATCH_REQUEST_BYTES = 4 * 1024 * 1024


@dataclass
class ForwardedMessage:
    id: str
    body: Any
    attempts: int
    timestamp: float
    calls: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def ack(self) -> None:
        self.calls.append({"call": "ack", "id": self.id})

    def retry(self, *, delay_seconds: int | None = None) -> None:
        self.calls.append({"call": "retry", "id": self.id, "delaySeconds": delay_seconds})


@dataclass
class ForwardedBatch:
    queue: str
    messages: list[ForwardedMessage]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def ack_all(self) -> None:
        self.calls.append({"call": "ackAll"})

    def retry_all(self, *, delay_seconds: int | None = None) -> None:
        self.calls.append({"call": "retryAll", "delaySeconds": delay_seconds})


def batch_from_wire(payload: dict[str, Any]) -> ForwardedBatch:
    calls: list[dict[str, Any]] = []
    messages = [
        ForwardedMessage(
            id=m["id"],
            body=decode(m["body"]),
            attempts=int(m["attempts"]),
            timestamp=m["timestamp"] / 1000.0,  # JS Date milliseconds -> epoch seconds
            calls=calls,
        )
        for m in payload["messages"]
    ]
    return ForwardedBatch(queue=payload["queue"], messages=messages, calls=calls)


async def consume(payload: dict[str, Any], handler: BatchHandler) -> dict[str, Any]:
    """Run the consumer on one forwarded batch; answer what the bridge must replay."""
    batch = batch_from_wire(payload)
    try:
        await handler(batch)
    except Exception as exc:
        traceback.print_exc()
        return {"ok": False, "calls": batch.calls, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "calls": batch.calls}


class QueueCallbackServer:
    """A minimal HTTP/1.1 endpoint on loopback: one POST per delivered batch.

    Deliberately not the app's ASGI server: the consumer must work whether or not
    an HTTP host is running (tests, `devcapsules dev`, the benchmark).
    """

    def __init__(self, handler: BatchHandler):
        self.handler = handler
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.server = await asyncio.start_server(self._serve, host, port)
        bound_host, bound_port = self.server.sockets[0].getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}/batch"
        return self.url

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            payload = await _read_json_request(reader)
            status, reply = 200, await consume(payload, self.handler)
        except (ValueError, KeyError) as exc:
            status, reply = 400, {"ok": False, "calls": [], "error": str(exc)}
        body = json.dumps(reply).encode()
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        try:
            await writer.drain()
        finally:
            writer.close()


async def _read_json_request(reader: asyncio.StreamReader) -> dict[str, Any]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if not 0 < length <= MAX_BATCH_REQUEST_BYTES:
        raise ValueError(f"bad content-length {length}")
    return json.loads(await reader.readexactly(length))
