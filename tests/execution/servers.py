"""Loopback HTTP servers for the execution tests: any ASGI app under uvicorn in a
thread (the executor service, a Piston v2 stand-in), torn down after the test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.support.server import free_port

SERVICE_KEY = "svc-key-" + "k" * 40


@contextlib.contextmanager
def serve_in_thread(asgi_app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        asgi_app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("loopback server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class FakePiston:
    """Speaks Piston v2 (runtimes + execute) for a pretend Rust runtime; the programs it
    "runs" are recognised by marker text, and every request body is kept for asserts.

    Two markers shape the timing, without any timing being asserted: `OVERLAP` holds each
    request until a second one is in flight (at most HOLD_S, for a sequential client),
    `HANG` holds a request whose stdin is "hang" until the client goes away (at most
    HOLD_S, then a 500). `max_in_flight` is the most requests it ever served at once."""

    RUNTIMES = [{"language": "rust", "version": "1.68.2", "aliases": ["rs"]}]
    HOLD_S = 5.0

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self.disconnected = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if await self.hold(body, receive):
                return  # the client left: nobody to answer
            status, answer = self.answer(scope["method"], scope["path"], body)
        finally:
            self.in_flight -= 1
        payload = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def hold(self, body: bytes, receive: Any) -> bool:
        """Hold a marked request; True when the client disconnected meanwhile."""
        try:
            request = json.loads(body)
            code, stdin = request["files"][0]["content"], request["stdin"]
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        if "OVERLAP" in code:
            deadline = asyncio.get_running_loop().time() + self.HOLD_S
            while self.max_in_flight < 2 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        if "HANG" in code and stdin == "hang":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.HOLD_S):
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    self.disconnected += 1
                    return True
        return False

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if (method, path) == ("GET", "/api/v2/runtimes"):
            return 200, self.RUNTIMES
        if (method, path) != ("POST", "/api/v2/execute"):
            return 404, {"message": "not found"}
        request = json.loads(body)
        self.requests.append(request)
        if request["language"] not in ("rust", "rs"):
            unknown = f"{request['language']}-{request['version']} runtime is unknown"
            return 400, {"message": unknown}
        code = request["files"][0]["content"]
        if "HANG" in code and request["stdin"] == "hang":
            return 500, {"message": "held past HOLD_S: the client never gave up"}
        return 200, self.run(code, request)

    def run(self, code: str, request: dict) -> dict[str, Any]:
        result = {"language": "rust", "version": "1.68.2"}
        if "COMPILE_ERROR" in code:
            compiled = {"stdout": "", "stderr": "error[E0425]", "output": "error[E0425]"}
            return {**result, "compile": {**compiled, "code": 1, "signal": None}}
        ok = {"stdout": "", "stderr": "", "output": "", "code": 0, "signal": None}
        result["compile"] = ok
        if "loop {}" in code:
            killed = {"code": None, "signal": "SIGKILL", "status": "TO"}
            return {**result, "run": {**ok, **killed, "wall_time": request["run_timeout"]}}
        if "DOUBLE" in code:
            out = f"{int(request['stdin']) * 2}\n"
            return {**result, "run": {**ok, "stdout": out, "output": out}}
        printed = "".join(f"{text}\n" for text in re.findall(r'println!\("([^"]*)"\)', code))
        return {**result, "run": {**ok, "stdout": printed, "output": printed}}
