"""A misbehaving HTTP peer on loopback: answers slowly, never, badly or hugely.

A real socket server in a thread speaking HTTP/1.1 by hand, so that it can do what
well-behaved frameworks will not: trickle a response a byte at a time, accept a
connection and never answer, or send a body of any size. Each exchange is recorded,
including whether the client hung up before the answer was complete.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    trickle_every_s: float | None = None  # send the body one byte per interval
    hang: bool = False  # read the request, then answer nothing until the client leaves
    chunked: bool = False  # no Content-Length: the size shows only while reading


@dataclass
class Peer:
    url: str
    behaviour: Behaviour
    requests: list[bytes] = field(default_factory=list)
    abandoned: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        peer: Peer = self.server.peer  # type: ignore[attr-defined]
        self.request.settimeout(60)
        try:
            peer.requests.append(_read_request(self.request))
            _answer(self.request, peer)
        except OSError:  # the client hung up mid-answer (reset, broken pipe, timeout)
            peer.abandoned.set()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return body


def _answer(sock: socket.socket, peer: Peer) -> None:
    behaviour = peer.behaviour
    if behaviour.hang:
        # recv returns b"" when the client closes: that is the hang-up we record.
        while not peer.stop.is_set():
            sock.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                if sock.recv(1) == b"":
                    peer.abandoned.set()
                    return
        return
    size = (
        b"Transfer-Encoding: chunked"
        if behaviour.chunked
        else (b"Content-Length: %d" % len(behaviour.body))
    )
    head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\n%s\r\nConnection: close\r\n\r\n" % (
        behaviour.status,
        behaviour.content_type.encode(),
        size,
    )
    sock.sendall(head)
    if behaviour.trickle_every_s is None:
        _send_body(sock, behaviour.body, behaviour.chunked)
        return
    for index in range(len(behaviour.body)):
        if peer.stop.wait(behaviour.trickle_every_s):
            return
        _send_body(sock, behaviour.body[index : index + 1], behaviour.chunked, last=False)
    _send_body(sock, b"", behaviour.chunked)


def _send_body(sock: socket.socket, body: bytes, chunked: bool, last: bool = True) -> None:
    if not chunked:
        sock.sendall(body)
        return
    step = 1 << 16
    for start in range(0, len(body), step):
        piece = body[start : start + step]
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    if last:
        sock.sendall(b"0\r\n\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def misbehaving_peer(behaviour: Behaviour) -> Iterator[Peer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    peer = Peer(f"http://127.0.0.1:{server.server_address[1]}", behaviour)
    server.peer = peer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
