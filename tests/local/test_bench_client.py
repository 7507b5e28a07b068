"""The bench's lean HTTP client (bench/_http.py), which times requests through a host:
over real sockets against our uvicorn set-up, it reads what the host answers, keeps one
connection, follows a server's close, and refuses an answer it cannot read (a misread
answer must fail the bench, not look fast)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path

import pytest

from devcapsules.app import build_app
from devcapsules.bindings.env import Env
from devcapsules.local.asgi import AsgiAdapter
from devcapsules.local.http_server import run_event_loop, uvicorn_server
from devcapsules.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _http import LeanClient


def serve(app):
    server = uvicorn_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=run_event_loop, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)  # start-up, not a timer under test
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return server, thread, f"http://{host}:{port}"


@pytest.fixture(scope="module")
def ours():
    server, thread, base = serve(AsgiAdapter(build_app(Settings()), Env()))
    yield base
    server.should_exit = True
    thread.join(10)


def raw_app(headers: list[tuple[bytes, bytes]]):
    """Answers {"ok": true}, or the request's JSON body echoed with the same headers."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = (await receive())["body"] or b'{"ok": true}'
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def raw():
    started = []

    def start(headers):
        started.append(serve(raw_app(headers)))
        return started[-1][2]

    yield start
    for server, thread, _ in started:
        server.should_exit = True
        thread.join(10)


def get_each(base: str, paths: list[str]) -> tuple[list, int]:
    """The answers to GETs of `paths` in turn on one client, and its connection count."""

    async def scenario():
        client = LeanClient(base)
        try:
            return [await client.request("GET", path) for path in paths], client.connections
        finally:
            await client.aclose()

    return asyncio.run(scenario())


def test_answers_are_read_over_one_kept_alive_connection(ours):
    answers, connections = get_each(ours, ["/health"] * 3)
    assert [status for status, _ in answers] == [200] * 3
    assert all(health["status"] == "ok" for _, health in answers)
    assert connections == 1


def test_a_json_body_is_posted(raw):
    sent = {"source_code": "print('Hello World')", "language": "python"}
    length = str(len(json.dumps(sent))).encode()
    base = raw([(b"content-type", b"application/json"), (b"content-length", length)])

    async def scenario():
        client = LeanClient(base)
        try:
            return await client.post("/api/v1/execute", sent)
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == (200, sent)


def test_a_server_that_closes_gets_a_new_connection(raw):
    base = raw(
        [
            (b"content-type", b"application/json"),
            (b"connection", b"close"),
            (b"content-length", b"12"),
        ]
    )

    answers, connections = get_each(base, ["/"] * 2)
    assert answers == [(200, {"ok": True})] * 2
    assert connections == 2


def test_an_answer_without_content_length_fails_loudly(raw):
    base = raw([(b"content-type", b"application/json")])  # uvicorn then sends it chunked

    async def scenario():
        client = LeanClient(base)
        try:
            await client.request("GET", "/")
        finally:
            await client.aclose()

    with pytest.raises(ValueError, match="without Content-Length"):
        asyncio.run(scenario())
