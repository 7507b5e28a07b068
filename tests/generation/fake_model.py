"""A fake Azure OpenAI chat-completions server on loopback HTTP, run in a thread.

It speaks the wire protocol the provider uses (path, `api-version`, `api-key`, the
chat-completion body and the service's error bodies) and answers from a script:

    model.push(good_capsule())             # 200 with that capsule as the content
    model.push(("status", 429, {"error": {...}}, {"Retry-After": "7"}))
    model.push(("sleep", 2.0))              # longer than the client's timeout
    model.push(("content", "not json"))     # 200, malformed content
    model.push(("finish", "content_filter"))

With the script empty it answers `default` (a good capsule unless changed). `latency`
delays every answer (the bench's 200 ms model).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEPLOYMENT = "gpt-test"
API_KEY = "test-azure-key"


class FakeModel:
    def __init__(self, default: Any = None, latency: float = 0.0):
        self.script: collections.deque = collections.deque()
        self.default = default
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def vars(self, **extra: str) -> dict[str, str]:
        return {
            "AZURE_OPENAI_ENDPOINT": self.endpoint,
            "AZURE_OPENAI_DEPLOYMENT": DEPLOYMENT,
            "AZURE_OPENAI_API_KEY": API_KEY,
            "GENERATION_MODEL_TIMEOUT_SECONDS": "0.5",
            **extra,
        }

    def push(self, *behaviours: Any) -> None:
        with self.lock:
            self.script.extend(behaviours)

    def next_behaviour(self) -> Any:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def __enter__(self) -> FakeModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(content: str | None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, "refusal": None},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def azure_error(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "param": None, "type": None}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


def _handler(model: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            with model.lock:
                model.requests.append({"path": parts.path, "query": parts.query, "body": body})
            if parts.path != f"/openai/deployments/{DEPLOYMENT}/chat/completions" or (
                "api-version" not in parse_qs(parts.query)
            ):
                return self._send(404, azure_error("DeploymentNotFound", "no such deployment"))
            if self.headers.get("api-key") != API_KEY:
                return self._send(401, azure_error("401", "Access denied: invalid key"))
            if model.latency:
                time.sleep(model.latency)
            self._answer(model.next_behaviour())

        def _answer(self, behaviour: Any) -> None:
            if isinstance(behaviour, dict):
                return self._send(200, completion(json.dumps(behaviour)))
            kind = behaviour[0]
            if kind == "status":
                _, status, payload, headers = behaviour
                return self._send(status, payload, headers)
            if kind == "sleep":
                time.sleep(behaviour[1])
                return self._send(200, completion("{}"))
            if kind == "content":
                return self._send(200, completion(behaviour[1]))
            if kind == "finish":
                return self._send(200, completion(None, finish_reason=behaviour[1]))
            raise ValueError(f"unknown behaviour {behaviour!r}")

        def _send(self, status: int, payload: Any, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

    return Handler
