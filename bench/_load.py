"""A small HTTP/1.1 keep-alive load generator on raw sockets (loopback only).

Client cost is kept low and identical for every server measured, so the ratio
between two servers is meaningful even if the absolute numbers include the client.
"""

from __future__ import annotations

import asyncio
import time


async def _worker(host: str, port: int, path: str, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n")[0].decode())
            counts[0] += 1
    finally:
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


async def measure_rps(
    host: str, port: int, path: str, seconds: float = 3.0, connections: int = 8
) -> float:
    counts = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_worker(host, port, path, deadline, counts) for _ in range(connections)))
    return counts[0] / (time.perf_counter() - started)
