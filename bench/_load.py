"""A small HTTP/1.1 keep-alive load generator on raw sockets (loopback only).

Client cost is kept low and identical for every server measured, so the ratio
between two servers is meaningful even if the absolute numbers include the client.

`pipeline` requests are written at once per connection and their answers read back
in order (HTTP/1.1 pipelining, which uvicorn serves one after the other): the client's
own cost per request falls by about that factor, so on a 2-core machine a server in
another process is what bounds the rate, not the client (bench_core.py prints both
sides' CPU per request to show it).
"""

from __future__ import annotations

import asyncio
import time


async def _worker(
    host: str, port: int, path: str, deadline: float, counts: list[int], pipeline: int
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() * pipeline
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            await writer.drain()
            for _ in range(pipeline):
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.split(b"\r\n")[0].decode())
            counts[0] += pipeline
    finally:
        writer.close()


def _content_length(head: bytes) -> int:
    start = head.lower().find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    end = head.find(b"\r\n", start + 2)
    return int(head[start + 17 : end])


async def measure_rps(
    host: str,
    port: int,
    path: str,
    seconds: float = 3.0,
    connections: int = 8,
    pipeline: int = 1,
) -> float:
    counts = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(host, port, path, deadline, counts, pipeline) for _ in range(connections))
    )
    return counts[0] / (time.perf_counter() - started)
