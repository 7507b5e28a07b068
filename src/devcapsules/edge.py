"""The Workers edge adapter: the one module (with `src/entry.py`) that touches `js`,
`pyodide` and the `workers` SDK.

It converts at the boundary and nowhere else: a Workers request into our `Request`,
our `Response` into a JS `Response`, the SDK-wrapped env bindings into our binding
Protocols (plain dicts/lists, None for NULL), a delivered queue batch into our
`MessageBatch`. Every handler reads the env from the entrypoint (`self.env`), never
from its converted arguments. The app is built once per isolate on the first event,
from a builder that src/entry.py prepares at import time (the deploy snapshot keeps
it); importing this module does no I/O, reads no env and draws no randomness.

Runtime facts this code relies on (checked by tests/pyodide against Pyodide 0.28
and Miniflare's D1/KV/Queues; see README "What is verified offline"):
- D1 returns numbers as JS doubles: an INTEGER beyond ±2**53 reaches Python as a
  float (precision lost), a REAL with an integral value as an int; BLOBs come back
  as lists of byte values. Binding a Python int of magnitude >= 2**53 - 1 sends a
  JS BigInt, which D1 refuses with `D1_TYPE_ERROR`. Booleans bind as 1/0.
- Pyodide turns JS null into `jsnull` in some conversions; `_plain` maps it to None.
- KV refuses an `expirationTtl` under 60 s; Web Crypto PBKDF2 is capped at 100,000
  iterations on Workers.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import js
from pyodide.ffi import JsException, JsProxy, create_once_callable, to_js
from workers import _EnvWrapper
from workers.rpc import _BindingWrapper

from devcapsules.bindings.env import DB_BINDING, GENERATION_QUEUE_BINDING, KV_BINDING, Env
from devcapsules.bindings.kv_wire import kv_type, list_options, list_page, put_options
from devcapsules.bindings.protocols import BindingError, D1Error, KVError, QueueError
from devcapsules.http import Headers, Request, Response
from devcapsules.logs import Logger
from devcapsules.settings import Settings, SettingsError

try:  # Pyodide >= 0.27 exposes jsnull; older ones hand Python None directly.
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover - depends on the Pyodide version
    jsnull = None

# Workers caps Web Crypto PBKDF2 at this many iterations.
MAX_PBKDF2_ITERATIONS = 100_000
NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})


# ---------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    """SDK results as plain Python: dict/list (not JsDict), None for jsnull, bytes for buffers."""
    if value is None or value is jsnull:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, JsProxy):
        return _plain_js(value)
    return value


def _plain_js(value: JsProxy) -> Any:
    if hasattr(value, "to_bytes"):  # ArrayBuffer / typed array
        return value.to_bytes()
    if getattr(value, "constructor", None) is not None and value.constructor.name == "Date":
        return value.getTime() / 1000.0
    return _plain(value.to_py())


def _js_object(mapping: dict[str, Any]) -> Any:
    return to_js(mapping, dict_converter=js.Object.fromEntries)


def _sdk(binding: Any) -> Any:
    """The SDK's converting wrapper around a binding (idempotent for wrapped ones)."""
    return _BindingWrapper(binding) if isinstance(binding, JsProxy) else binding


async def _call(error: type[BindingError], awaitable: Awaitable[Any]) -> Any:
    try:
        return _plain(await awaitable)
    except JsException as exc:
        raise error(str(getattr(exc, "message", None) or exc)) from None


# ---------------------------------------------------------------- D1


class EdgeStatement:
    def __init__(self, statement: Any):
        self._statement = statement

    def bind(self, *values: Any) -> EdgeStatement:
        try:
            return EdgeStatement(self._statement.bind(*values))
        except JsException as exc:
            raise D1Error(str(getattr(exc, "message", None) or exc)) from None

    async def first(self, column: str | None = None) -> Any:
        call = self._statement.first() if column is None else self._statement.first(column)
        return await _call(D1Error, call)

    async def all(self) -> dict[str, Any]:
        return await _call(D1Error, self._statement.all())

    async def run(self) -> dict[str, Any]:
        return await _call(D1Error, self._statement.run())

    async def raw(self, column_names: bool = False) -> list[list[Any]]:
        return await _call(D1Error, self._statement.raw({"columnNames": column_names}))


class EdgeD1:
    def __init__(self, binding: Any):
        self._db = _sdk(binding)

    def prepare(self, sql: str) -> EdgeStatement:
        return EdgeStatement(self._db.prepare(sql))

    async def batch(self, statements: Sequence[EdgeStatement]) -> list[dict[str, Any]]:
        return await _call(D1Error, self._db.batch([s._statement for s in statements]))

    async def exec(self, sql: str) -> dict[str, Any]:
        return await _call(D1Error, self._db.exec(sql))


# ---------------------------------------------------------------- KV


class EdgeKV:
    def __init__(self, binding: Any):
        self._kv = _sdk(binding)

    async def get(self, key: str, type: str = "text") -> Any:
        return await _call(KVError, self._kv.get(key, {"type": kv_type(type)}))

    async def get_with_metadata(self, key: str, type: str = "text") -> dict[str, Any]:
        found = await _call(KVError, self._kv.getWithMetadata(key, {"type": kv_type(type)}))
        return {"value": found["value"], "metadata": found["metadata"]}

    async def put(
        self,
        key: str,
        value: str | bytes,
        *,
        expiration_ttl: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        options = put_options(expiration_ttl, metadata)
        await _call(KVError, self._kv.put(key, value, options))

    async def delete(self, key: str) -> None:
        await _call(KVError, self._kv.delete(key))

    async def list(
        self, *, prefix: str = "", limit: int = 1000, cursor: str | None = None
    ) -> dict[str, Any]:
        options = list_options(prefix, limit, cursor)
        page = await _call(KVError, self._kv.list(options))
        return list_page(page)


# ---------------------------------------------------------------- Queues


class EdgeQueue:
    def __init__(self, binding: Any):
        self._queue = _sdk(binding)

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            await _call(QueueError, self._queue.send(body))
        else:
            await _call(QueueError, self._queue.send(body, {"delaySeconds": delay_seconds}))

    async def send_batch(self, messages: Sequence[dict[str, Any]]) -> None:
        await _call(QueueError, self._queue.sendBatch(list(messages)))


class EdgeMessage:
    def __init__(self, message: Any):
        self._message = message
        self.id = str(message.id)
        self.body = _plain(message.body)
        self.attempts = int(message.attempts)
        self.timestamp = _epoch_seconds(message.timestamp)

    def ack(self) -> None:
        self._message.ack()

    def retry(self, *, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            self._message.retry()
        else:
            self._message.retry({"delaySeconds": delay_seconds})


class EdgeMessageBatch:
    def __init__(self, batch: Any):
        self._batch = _sdk(batch)
        self.queue = str(self._batch.queue)
        self.messages = [EdgeMessage(_sdk(m)) for m in self._batch.messages]

    def ack_all(self) -> None:
        self._batch.ackAll()

    def retry_all(self, *, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            self._batch.retryAll()
        else:
            self._batch.retryAll({"delaySeconds": delay_seconds})


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, JsProxy):
        return value.getTime() / 1000.0
    return float(value) / 1000.0  # a bare JS timestamp is in milliseconds


# ---------------------------------------------------------------- env


def read_vars(js_env: Any) -> dict[str, str]:
    """Every string in the env: wrangler `[vars]` and secrets, as `Settings.from_vars` reads them.

    Bindings are objects and are skipped, so a new var or secret needs no code here. The
    handlers pass `self.env` (the env proxy); a dict (the SDK's `JsDict`, what the runtime
    makes of an env passed as an argument) is read too, so no caller can lose the vars.
    """
    if isinstance(js_env, dict):
        return {str(k): v for k, v in js_env.items() if isinstance(v, str)}
    raw = js_env._env if isinstance(js_env, _EnvWrapper) else js_env
    found: dict[str, str] = {}
    for name in js.Object.keys(raw):
        value = getattr(raw, name)
        if isinstance(value, str):
            found[str(name)] = value
    return found


def build_env(js_env: Any, vars: dict[str, str] | None = None) -> Env:
    """Our `Env` over the Worker's env: each binding wrapped in its Protocol adapter."""
    env = _EnvWrapper(js_env)
    built = Env(
        vars=read_vars(env) if vars is None else vars,
        db=_optional(env, DB_BINDING, EdgeD1),
        kv=_optional(env, KV_BINDING, EdgeKV),
        generation_queue=_optional(env, GENERATION_QUEUE_BINDING, EdgeQueue),
    )
    # Password hashing on the edge goes through Web Crypto (see `pbkdf2_sha256`).
    built.pbkdf2 = pbkdf2_sha256
    return built


def _optional(env: Any, name: str, adapter: Callable[[Any], Any]) -> Any:
    binding = getattr(env, name, None)
    return None if binding is None or binding is jsnull else adapter(binding)


# ---------------------------------------------------------------- HTTP


async def to_app_request(request: Any, max_body_bytes: int | None = None) -> Request:
    """A `workers.Request` (or a raw JS Request) as our runtime-neutral `Request`.

    At most `max_body_bytes + 1` bytes of the body are read: enough for the app to answer
    413, without buffering a 100 MB upload in a 128 MB isolate first.
    """
    js_request = getattr(request, "js_object", request)
    headers = Headers([(str(pair[0]), str(pair[1])) for pair in js_request.headers.entries()])
    method = str(js_request.method).upper()
    body = b""
    if method not in ("GET", "HEAD"):
        body = await _read_body(js_request, headers, max_body_bytes)
    client_ip = headers.get("cf-connecting-ip")
    return Request(method, str(js_request.url), headers, body, client_ip)


async def _read_body(js_request: Any, headers: Headers, limit: int | None) -> bytes:
    if limit is None:
        return (await js_request.arrayBuffer()).to_bytes()
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b""  # the declared length alone earns the 413; nothing is read
    stream = js_request.body
    if stream is None or stream is jsnull:
        return b""
    reader = stream.getReader()
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await reader.read()
        if chunk.done:
            return b"".join(chunks)
        data = chunk.value.to_bytes()
        chunks.append(data)
        size += len(data)
    await reader.cancel()  # over the limit: stop the upload, keep limit + 1 bytes
    return b"".join(chunks)[: limit + 1]


def to_js_response(response: Response, method: str = "GET") -> Any:
    """Our `Response` as a JS Response: every header value kept (Vary, Set-Cookie...)."""
    headers = js.Headers.new()
    for name, value in response.headers.items_list():
        headers.append(name, value)
    no_body = method == "HEAD" or response.status in NULL_BODY_STATUSES or not response.body
    body = None if no_body else to_js(response.body)
    init = _js_object({"status": response.status, "headers": headers})
    return js.Response.new(body, init)


# ---------------------------------------------------------------- outbound HTTP

# Describe the encoded body, which fetch has already decoded: httpx must not see them.
_DECODED_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@functools.cache
def _fetch_transport_class() -> type:
    import httpx  # deferred: only a Worker that makes an outbound call loads it

    class FetchTransport(httpx.AsyncBaseTransport):
        """httpx over the runtime's `fetch`: the Worker has no sockets (TLS is fetch's)."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            headers = js.Headers.new()
            for name, value in request.headers.multi_items():
                headers.append(name, value)
            init: dict[str, Any] = {"method": request.method, "headers": headers}
            body = await request.aread()
            if body:
                init["body"] = to_js(body)
            timeout = (request.extensions.get("timeout") or {}).get("read")
            if timeout:
                init["signal"] = js.AbortSignal.timeout(int(timeout * 1000))
            try:
                answer = await js.fetch(str(request.url), _js_object(init))
                content = (await answer.arrayBuffer()).to_bytes()
            except JsException as exc:
                name = str(getattr(exc, "name", "") or "")
                error = httpx.ReadTimeout if name == "TimeoutError" else httpx.ConnectError
                raise error(str(getattr(exc, "message", None) or exc), request=request) from None
            pairs = [(str(p[0]), str(p[1])) for p in answer.headers.entries()]
            kept = [(k, v) for k, v in pairs if k.lower() not in _DECODED_BODY_HEADERS]
            return httpx.Response(answer.status, headers=kept, content=content, request=request)

    return FetchTransport


def fetch_transport() -> Any:
    """The transport every httpx client on the edge uses (see services.execution.http_client)."""
    return _fetch_transport_class()()


# ---------------------------------------------------------------- the isolate's app

AppBuilder = Callable[[Settings], Any]


def edge_settings(vars: dict[str, str]) -> Settings:
    """The Worker's settings: `Settings.from_vars`, plus what only the edge refuses.

    - No `ENVIRONMENT`: the vars were not found (an env without wrangler's `[vars]`),
      which must not silently run as `development` (no JWT secret needed, open CORS).
    - The `local` executor backend: the Worker has no processes to sandbox code in.
    """
    if not vars.get("ENVIRONMENT", "").strip():
        raise SettingsError(
            "ENVIRONMENT is not set: the Worker's vars are missing (wrangler.toml [vars])"
        )
    settings = Settings.from_vars(vars)  # every section: a bad var of any fails here
    if "local" in settings.execution.backends():
        raise SettingsError(
            "the local executor backend cannot run on the Workers edge (no processes there):"
            " set EXECUTOR_BACKEND_DEFAULT / EXECUTOR_ROUTES to remote or piston"
        )
    return settings


class Isolate:
    """Per-isolate state: the app, built on the first event (whichever handler it reaches)
    from the env's vars and then reused by every handler. Building it parses and checks
    every settings section (`edge_settings`) and makes the app's dependencies (executor,
    model provider, clock, ids) once; a `SettingsError` is answered per event instead.

    `builder` is made at import time (see src/entry.py): everything that needs no settings
    is in the deploy snapshot; only `builder(settings)` runs on the first event.
    """

    def __init__(self, builder: AppBuilder):
        self.builder = builder
        self.app: Any = None

    def app_for(self, vars: dict[str, str]) -> Any:
        if self.app is None:
            # Not cached on failure: SettingsError is answered per event until fixed.
            self.app = self.builder(edge_settings(vars))
        return self.app


def make_wait_until(ctx: Any) -> Callable[[Awaitable[Any]], None]:
    """`ctx.waitUntil` for Python awaitables: the isolate stays alive until they finish.

    The runtime is handed a JS Promise settled by the task's done-callback: no PyProxy
    is created, so nothing outlives the task (a proxy per call would keep every task,
    and what it references, alive for the isolate's lifetime).
    """

    def wait_until(awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        if ctx is None:
            return

        def executor(resolve: Any, reject: Any) -> None:
            task.add_done_callback(lambda done: _settle(done, resolve, reject))

        ctx.waitUntil(js.Promise.new(create_once_callable(executor)))

    return wait_until


def _settle(task: asyncio.Future[Any], resolve: Any, reject: Any) -> None:
    if task.cancelled() or task.exception() is None:
        resolve()
    else:
        reject(str(task.exception()))


async def handle_fetch(request: Any, js_env: Any, ctx: Any, isolate: Isolate) -> Any:
    """fetch(): adapt, run the app, adapt back. Returns a JS Response.

    Vars the settings cannot be built from are answered on every route by
    `MisconfiguredApp`: a 500 `configuration_error` from the one error renderer, with
    the same decorating headers as any answer."""
    env = build_env(js_env)
    try:
        app = isolate.app_for(dict(env.vars))
    except SettingsError as exc:
        from devcapsules.middleware.stack import MisconfiguredApp

        app = MisconfiguredApp(exc, env.vars)
    app_request = await to_app_request(request, app.settings.max_body_bytes)
    response = await app.handle(app_request, env, make_wait_until(ctx))
    return to_js_response(response, app_request.method)


async def handle_queue(batch: Any, js_env: Any, ctx: Any, isolate: Isolate) -> None:
    """queue(): our MessageBatch to the app's consumer registry. A SettingsError is logged
    and raised, so the platform retries the batch instead of dropping it."""
    env = build_env(js_env)
    app = _app_or_log(isolate, env, queue=str(getattr(batch, "queue", "")))
    await app.handle_batch(EdgeMessageBatch(batch), env, make_wait_until(ctx))


async def handle_scheduled(controller: Any, js_env: Any, ctx: Any, isolate: Isolate) -> None:
    """scheduled(): the cron trigger runs the maintenance job (pruning, re-sending), with
    the same app (and so the same settings) that serves HTTP."""
    cron = str(getattr(controller, "cron", "") or "")
    env = build_env(js_env)
    app = _app_or_log(isolate, env, cron=cron)
    await app.handle_scheduled(cron, env, make_wait_until(ctx))


def _app_or_log(isolate: Isolate, env: Env, **where: str) -> Any:
    try:
        return isolate.app_for(dict(env.vars))
    except SettingsError as exc:
        Logger().error("configuration_error", message=str(exc), **where)
        raise


# ---------------------------------------------------------------- Web Crypto


async def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int = 32) -> bytes:
    """PBKDF2-HMAC-SHA256 via Web Crypto (Pyodide's hashlib has no pbkdf2_hmac).

    Same output as `hashlib.pbkdf2_hmac("sha256", password, salt, iterations, length)`.
    """
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise ValueError(f"PBKDF2 iterations must be 1..{MAX_PBKDF2_ITERATIONS} on Workers")
    subtle = js.crypto.subtle
    key = await subtle.importKey(
        "raw", to_js(bytes(password)), "PBKDF2", False, to_js(["deriveBits"])
    )
    params = _js_object(
        {"name": "PBKDF2", "hash": "SHA-256", "salt": to_js(bytes(salt)), "iterations": iterations}
    )
    bits = await subtle.deriveBits(params, key, length * 8)
    return bits.to_bytes()
