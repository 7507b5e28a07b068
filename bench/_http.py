"""A lean HTTP/1.1 client for the bench's timed requests through a host.

The timed request is what a host costs; the client's own CPU is not. httpx (pure Python:
h11's parser, its request and response models, anyio) costs the bench's process 1.4 ms a
request back to back and 2.8 ms after a 20 ms idle gap (as between the interleaved cold
rows), measured against a raw ASGI app under our uvicorn set-up; a request written to an
asyncio stream and its answer read back costs 0.1 ms. Timed through httpx, a cold
`POST /execute` counted ~2-3 ms of the bench's own client as the host's.

One kept-alive connection per client; only what our hosts answer: a JSON body with a
Content-Length (anything else raises: a misread answer must fail, not look fast).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class LeanClient:
    def __init__(self, base: str) -> None:
        host, _, port = base.removeprefix("http://").rstrip("/").partition(":")
        self.host, self.port = host, int(port or 80)
        self.connections = 0  # opened so far (keep-alive: one, unless the server closed)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        reader, writer = await self._connection()
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        writer.write(f"{head}\r\n".encode() + data)
        status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if "content-length" not in headers:
            await self.aclose()
            raise ValueError(f"{method} {path}: answer without Content-Length ({headers})")
        payload = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return status, json.loads(payload) if payload else None

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body)

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # the server may have closed first
                await writer.wait_closed()

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # A server closes a keep-alive connection idle past its limit (uvicorn: 5 s, the
        # gap between two rows of the table); that EOF is seen here, before a request.
        if self._reader is None or self._reader.at_eof():
            await self.aclose()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.connections += 1
        return self._reader, self._writer


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers
