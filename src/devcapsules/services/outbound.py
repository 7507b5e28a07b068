"""One outbound HTTP call with a total deadline and a bounded answer.

httpx's timeouts apply per operation (connect, each read): a peer that trickles one
byte a second never trips them, and one call could last for ever. Here the whole call
(connect, send, every read of the body) runs under one `asyncio.timeout`, which works
the same on CPython and in Pyodide (the Worker's event loop has timers), whatever
transport carries the request. The body is read in chunks and refused as soon as it
passes `max_bytes`, so an oversized answer never sits in memory whole.

Callers map the three failures to their own error codes:
`OutboundTimeout` (deadline passed), `OutboundUnreachable` (connect/transport failure)
and `OutboundTooLarge` (the answer exceeded the bound).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


class OutboundError(Exception):
    pass


class OutboundTimeout(OutboundError):
    pass


class OutboundUnreachable(OutboundError):
    pass


class OutboundTooLarge(OutboundError):
    pass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Any  # httpx.Headers: case-insensitive
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None


async def call(
    client: Any,
    method: str,
    url: str,
    *,
    deadline_s: float,
    max_bytes: int,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """`client` is an `httpx.AsyncClient`; the deadline covers the whole exchange."""
    import httpx

    try:
        async with asyncio.timeout(deadline_s):
            return await _exchange(client, method, url, json_body, headers or {}, max_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise OutboundTimeout(f"no complete answer within {deadline_s:g} s") from None
    except httpx.HTTPError as exc:
        raise OutboundUnreachable(f"{type(exc).__name__}: {exc}"[:300]) from None


async def _exchange(
    client: Any, method: str, url: str, json_body: Any, headers: dict[str, str], max_bytes: int
) -> Answer:
    async with client.stream(method, url, json=json_body, headers=headers) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise OutboundTooLarge(f"the answer declares {declared} bytes (limit {max_bytes})")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise OutboundTooLarge(f"the answer exceeds {max_bytes} bytes")
            chunks.append(chunk)
        return Answer(response.status_code, response.headers, b"".join(chunks))
