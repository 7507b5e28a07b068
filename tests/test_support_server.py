"""The test servers' start-up survives a port taken between picking it and binding it
(as Miniflare's bridge did in CI: its /health answered, every other path 404'd)."""

from __future__ import annotations

import http.server
import threading

import httpx

from tests.support import server


class ForeignHealth(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the stdlib handler's name for GET
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *_args):
        pass


def test_a_port_taken_by_another_server_is_given_up_for_a_free_one(tmp_path, monkeypatch):
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForeignHealth)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    taken = foreign.server_address[1]
    ports = iter([taken])
    real_free_port = server.free_port
    monkeypatch.setattr(server, "free_port", lambda: next(ports, None) or real_free_port())
    try:
        with server.dev_server(tmp_path / "state") as base:
            assert not base.endswith(f":{taken}")
            assert "x-request-id" in httpx.get(f"{base}/health").headers
    finally:
        foreign.shutdown()
    assert list(tmp_path.glob(f"lost-port-server-{taken}.log"))


def test_a_refused_url_stays_refused_and_cannot_be_taken():
    """ "The executor is down" tests need a port nobody can start a server on while they
    run (a free_port() could be taken by a parallel test's server: a flake seen in CI)."""
    import socket
    from urllib.parse import urlsplit

    url = server.refused_url()
    port = urlsplit(url).port
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            other.bind(("127.0.0.1", port))
            taken = True
        except OSError:
            taken = False
    assert not taken
    try:
        httpx.get(url, timeout=5)
        refused = False
    except httpx.ConnectError:
        refused = True
    assert refused
    assert server.refused_url() == url
