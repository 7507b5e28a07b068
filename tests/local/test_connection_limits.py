"""Slow and idle clients over real sockets: the shared uvicorn setup closes them, with
either HTTP parser (httptools, the default where installed, and h11), on the loop the
hosts use (uvloop where installed)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from devcapsules.app import build_app
from devcapsules.bindings.env import Env
from devcapsules.local.asgi import AsgiAdapter
from devcapsules.local.http_server import ConnectionLimits, run_event_loop, uvicorn_server
from devcapsules.settings import Settings

LIMITS = ConnectionLimits(head_seconds=0.5, body_seconds=0.5, keep_alive_seconds=0.5)
# How long a test waits for the server to act; far above the limits, so never a race.
PATIENCE = 10.0


@pytest.fixture(scope="module", params=["httptools", "h11"])
def address(request):
    app = build_app(Settings())
    adapter = AsgiAdapter(app, Env(), LIMITS.body_seconds)
    server = uvicorn_server(adapter, "127.0.0.1", 0, LIMITS, parser=request.param)
    thread = threading.Thread(target=run_event_loop, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)  # start-up, not a timer under test
    yield server.servers[0].sockets[0].getsockname()[:2]
    server.should_exit = True
    thread.join(PATIENCE)


def connect(address) -> socket.socket:
    return socket.create_connection(address, timeout=PATIENCE)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a socket timeout fails the test."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_body_that_stops_short_is_408_and_the_connection_closes(address):
    with connect(address) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"email"'
        )
        answer = read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    error = json.loads(body)
    assert error["success"] is False and error["error"]["code"] == "request_timeout"
    assert error["requestId"].startswith("req_")


def test_a_connection_that_never_sends_a_request_is_closed(address):
    with connect(address) as sock:
        assert read_until_closed(sock) == b""


def test_a_request_head_that_trickles_is_closed(address):
    with connect(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        assert read_until_closed(sock) == b""


def test_an_idle_keep_alive_connection_is_closed_after_its_response(address):
    with connect(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


def read_response(sock: socket.socket) -> bytes:
    """One response (head and its Content-Length body) off a connection kept open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_complete_request_is_served_and_kept_alive(address):
    with connect(address) as sock:
        for _ in range(2):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_client_that_leaves_mid_body_is_not_acted_on():
    """A truncated body is never handed to a route (its response could not arrive)."""
    adapter = AsgiAdapter(build_app(Settings()), Env())
    messages = iter(
        [
            {"type": "http.request", "body": b'{"email": "a@example.com"', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/register",
        "headers": [(b"content-type", b"application/json"), (b"host", b"x")],
        "client": ("127.0.0.1", 5000),
    }
    asyncio.run(adapter(scope, receive, send))
    assert sent[0]["status"] == 408


def test_a_second_request_head_that_trickles_is_closed(address):
    """After a response the head deadline is armed again (uvicorn's keep-alive timer is
    disarmed by the first byte, so it alone would wait forever)."""
    with connect(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # and never the rest
        assert read_until_closed(sock) == b""


def test_the_default_parser_is_httptools_where_installed():
    from devcapsules.local.http_server import best_parser

    pytest.importorskip("httptools")
    assert best_parser() == "httptools"


def test_hosts_run_on_uvloop_where_installed():
    pytest.importorskip("uvloop")

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_event_loop(loop_module()).startswith("uvloop")
