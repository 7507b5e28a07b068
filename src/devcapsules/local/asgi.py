"""Serve the runtime-neutral app over ASGI (uvicorn locally, any ASGI server)."""

from __future__ import annotations

import asyncio
from typing import Any

from devcapsules.app import App
from devcapsules.bindings.env import Env
from devcapsules.http import Headers, Request, Response
from devcapsules.local.http_server import DEFAULT_LIMITS
from devcapsules.local.static_assets import StaticAssets


class AsgiAdapter:
    def __init__(
        self,
        app: App,
        env: Env,
        body_seconds: float = DEFAULT_LIMITS.body_seconds,
        assets: StaticAssets | None = None,
    ):
        self.app = app
        self.env = env
        # Static pages answered before the app, as Workers Static Assets does on the edge.
        self.assets = assets
        # A body not complete by then is answered 408 and its connection closed.
        self.body_seconds = body_seconds
        # Read at most one byte past the limit: enough for the app to answer 413
        # without buffering an arbitrarily large upload.
        self.read_limit = app.settings.max_body_bytes + 1

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = Headers.from_asgi(scope["headers"])
        if (asset := self._asset(scope, headers)) is not None:
            await send_response(send, asset)
            return
        chunks: list[bytes] = []
        if "content-length" in headers or "transfer-encoding" in headers:
            try:
                async with asyncio.timeout(self.body_seconds):
                    complete = await self._read_body(receive, chunks)
            except TimeoutError:
                complete = False
        else:
            # No body announced: the server hands over the (empty) request message at
            # once, so there is nothing to time out (and no timer per request to arm).
            complete = await self._read_body(receive, chunks)
        body = b"".join(chunks)[: self.read_limit]
        request = build_request(scope, body, body_complete=complete, headers=headers)
        response = await self.app.handle(request, self.env)
        if not complete:
            # The rest of the body may still be on its way: the connection cannot be reused.
            response.headers.set("Connection", "close")
        await send_response(send, response)

    def _asset(self, scope: dict[str, Any], headers: Headers) -> Response | None:
        """The static asset answering this request, if any (the app never sees it)."""
        if self.assets is None:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        return self.assets.answer(scope["method"], scope["path"], headers, query)

    async def _read_body(self, receive: Any, chunks: list[bytes]) -> bool:
        """Read into `chunks`; False if the client left before the body was complete (a
        truncated body must not be acted on: its response could not be delivered)."""
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.read_limit or not message.get("more_body", False):
                return True


def build_request(
    scope: dict[str, Any], body: bytes, body_complete: bool = True, headers: Headers | None = None
) -> Request:
    """The scope's path and query are already apart: the URL is assembled for the app
    (`request.url`) but not parsed again. The path is the raw (still percent-encoded)
    one, as the edge's `request.url` gives it; a fragment (h11 leaves it) is dropped."""
    if headers is None:
        headers = Headers.from_asgi(scope["headers"])
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    path = path.partition("#")[0]
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")
    client = scope.get("client")
    client_ip = client[0] if client else None
    return Request.from_parts(
        scope["method"], url, path, query, headers, body, client_ip, body_complete
    )


async def send_response(send: Any, response: Response) -> None:
    headers = response.headers.encoded()
    if "content-length" not in response.headers:
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
