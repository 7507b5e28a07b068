"""Boundary cases run INSIDE Pyodide by run_boundary.mjs (not collected by pytest).

Each `case_*` coroutine exercises src/entry.py / devcapsules.edge with the real
`workers` SDK against Miniflare's D1/KV/Queue objects and returns a JSON-able value
(the pytest side may check it further, e.g. PBKDF2 against CPython's hashlib). A case
fails by raising; the report carries the traceback.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import traceback
import weakref

import app_standin
import js
from pyodide.ffi import to_js

# pydantic's wasm core cannot load offline: the app's `prepare` is stood in (see
# app_standin.py); it must be in place before src/entry.py imports it at its top level.
# The module itself is the real one (it loads the router only where an App is built):
# a misconfigured Worker's chain is composed by the real `app.compose`.
import devcapsules.app

devcapsules.app.prepare = app_standin.prepare

from runtime import Runtime, js_env, production_vars  # noqa: E402

from devcapsules import edge  # noqa: E402
from devcapsules.bindings.protocols import BindingError, D1Error  # noqa: E402
from devcapsules.http import Headers, Response  # noqa: E402
from devcapsules.services import clock  # noqa: E402
from devcapsules.settings import SettingsError  # noqa: E402


def env():
    return edge.build_env(js.boundary.env)


def expect_error(kind, fragment, awaitable_factory):
    async def check():
        try:
            await awaitable_factory()
        except kind as exc:
            assert fragment in str(exc), f"{fragment!r} not in {exc!r}"
            return str(exc)
        raise AssertionError(f"expected {kind.__name__} containing {fragment!r}")

    return check()


# ---------------------------------------------------------------- D1


async def case_d1_null_booleans_blobs_unicode():
    db = env().db
    await db.exec("CREATE TABLE IF NOT EXISTS v (a, n INTEGER, r REAL, b BLOB, t TEXT)")
    await (
        db.prepare("INSERT INTO v VALUES (?, ?, ?, ?, ?)")
        .bind(None, True, 2.5, b"\x00\xff\x10", "naïve ☃ 𝄞")
        .run()
    )
    row = await db.prepare("SELECT * FROM v").first()
    assert row == {"a": None, "n": 1, "r": 2.5, "b": [0, 255, 16], "t": "naïve ☃ 𝄞"}, row
    assert type(row) is dict and row["a"] is None  # plain dict, real None (not jsnull)
    one = await db.prepare("SELECT CAST(1 AS REAL) AS x").first("x")
    assert one == 1 and isinstance(one, int), repr(one)
    return row


async def case_d1_large_integers():
    db = env().db
    big = await db.prepare("SELECT 9007199254740993 AS x").first("x")
    assert isinstance(big, float) and big == 9007199254740992.0, repr(big)
    ok = await db.prepare("SELECT ? AS x").bind(2**53 - 2).first("x")
    assert ok == 2**53 - 2 and isinstance(ok, int), repr(ok)
    refused = await expect_error(
        D1Error,
        "D1_TYPE_ERROR",
        lambda: db.prepare("SELECT ? AS x").bind(2**53 - 1).first("x"),
    )
    return {"read_back": big, "bind_refused": refused}


async def case_d1_run_all_raw_exec():
    db = env().db
    result = await db.exec("CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, t TEXT)")
    assert result["count"] == 1, result
    run = await db.prepare("INSERT INTO r (t) VALUES (?), (?)").bind("x", "y").run()
    assert run["success"] is True and run["meta"]["changes"] == 2, run
    assert run["meta"]["last_row_id"] == 2, run
    select = db.prepare("SELECT id, t FROM r ORDER BY id")
    assert (await select.all())["results"] == [{"id": 1, "t": "x"}, {"id": 2, "t": "y"}]
    assert await select.raw() == [[1, "x"], [2, "y"]]
    assert await select.raw(column_names=True) == [["id", "t"], [1, "x"], [2, "y"]]
    assert await db.prepare("SELECT * FROM r WHERE 0").first() is None
    return run["meta"]


async def case_d1_batch_is_atomic():
    db = env().db
    await db.exec("CREATE TABLE IF NOT EXISTS b (t TEXT)")
    good = db.prepare("INSERT INTO b VALUES (?)").bind("kept?")
    await expect_error(D1Error, "D1_ERROR", lambda: db.batch([good, db.prepare("SELECT nope")]))
    assert await db.prepare("SELECT count(*) AS c FROM b").first("c") == 0
    results = await db.batch([good, db.prepare("SELECT t FROM b")])
    assert [r["results"] for r in results] == [[], [{"t": "kept?"}]], results
    return len(results)


async def case_d1_sql_errors():
    db = env().db
    missing = await expect_error(
        D1Error, "D1_ERROR: no such table", lambda: db.prepare("SELECT * FROM nowhere").all()
    )
    begin = await expect_error(
        D1Error, "D1_ERROR: To execute a transaction", lambda: db.prepare("BEGIN").run()
    )
    return {"missing": missing, "begin": begin[:60]}


# ---------------------------------------------------------------- KV


async def case_kv_ttl_and_metadata():
    kv = env().kv
    refused = await expect_error(
        BindingError, "Invalid expiration_ttl of 30", lambda: kv.put("ttl", "v", expiration_ttl=30)
    )
    await kv.put("ttl", "v", expiration_ttl=60, metadata={"plan": "pro", "n": None})
    found = await kv.get_with_metadata("ttl")
    assert found == {"value": "v", "metadata": {"plan": "pro", "n": None}}, found
    return refused


async def case_kv_missing_key_and_types():
    kv = env().kv
    assert await kv.get("missing") is None
    assert await kv.get_with_metadata("missing") == {"value": None, "metadata": None}
    await kv.put("bytes", b"\x00\x01\xff")
    raw = await kv.get("bytes", type="arrayBuffer")
    assert raw == b"\x00\x01\xff" and isinstance(raw, bytes), repr(raw)
    await kv.put("json", json.dumps({"a": [1, None]}))
    assert await kv.get("json", type="json") == {"a": [1, None]}
    return "ok"


async def case_kv_list():
    kv = env().kv
    for i in range(3):
        await kv.put(f"list:{i}", str(i))
    first = await kv.list(prefix="list:", limit=2)
    assert [k["name"] for k in first["keys"]] == ["list:0", "list:1"], first
    assert first["list_complete"] is False and first["cursor"]
    rest = await kv.list(prefix="list:", cursor=first["cursor"])
    assert [k["name"] for k in rest["keys"]] == ["list:2"] and rest["list_complete"] is True
    assert "cursor" not in rest
    await kv.delete("list:0")
    assert len((await kv.list(prefix="list:"))["keys"]) == 2
    return first["keys"]


# ---------------------------------------------------------------- Queues


def fresh_isolate():
    """A new isolate's state: no app yet, a recording builder (see app_standin.py)."""
    import entry

    entry.ISOLATE.app = None
    entry.ISOLATE.builder = app_standin.Builder()
    return entry.ISOLATE.builder


def runtime(env=None):
    from entry import Default

    return Runtime(Default, js.boundary.env if env is None else env)


async def deliver_next(worker):
    batch = await js.boundary.nextBatch()
    await worker.queue(batch)  # queue(batch, env, ctx), converted as the runtime does
    batch.done()
    return batch


async def case_queue_send_batch_and_handler():
    q = env().generation_queue
    await q.send({"jobId": "j1", "note": None, "ok": True})
    await q.send_batch([{"body": {"retry": True}}, {"body": [1, "two"], "delaySeconds": 0}])
    builder = fresh_isolate()
    worker = runtime()
    seen = []
    while len(seen) < 4:  # three messages, one of them retried once
        batch = await deliver_next(worker)
        seen += [json.loads(json.dumps(c.to_py())) for c in batch.calls]
    app = builder.built[0]
    bodies = [body for batch in app.batches for body, _, _ in batch]
    assert {"jobId": "j1", "note": None, "ok": True} in bodies, bodies
    assert [1, "two"] in bodies, bodies
    attempts = [a for batch in app.batches for body, a, _ in batch if body == {"retry": True}]
    assert attempts == [1, 2], attempts
    stamps = [t for batch in app.batches for _, _, t in batch]
    assert all(abs(t - time.time()) < 120 for t in stamps), stamps
    return seen


async def case_queue_message_too_large_refused():
    q = env().generation_queue
    return await expect_error(BindingError, "", lambda: q.send("x" * (128 * 1024)))


# ---------------------------------------------------------------- HTTP


def js_request(method, url, headers, body=None):
    init = {"method": method, "headers": js.Headers.new(to_js(headers))}
    if body is not None:
        init["body"] = to_js(body)
    return js.Request.new(url, to_js(init, dict_converter=js.Object.fromEntries))


def sample_post():
    headers = [
        ["content-type", "application/json"],
        ["cf-connecting-ip", "198.51.100.7"],
        ["x-custom", "one"],
        ["x-custom", "two"],
    ]
    url = "https://api.example.com/api/v1/capsules?tag=a&tag=b"
    return js_request("POST", url, headers, json.dumps({"title": "héllo"}).encode())


async def case_request_conversion():
    from workers.rpc import python_from_rpc

    # The SDK's Request (what workerd hands fetch) and a raw JS Request both convert.
    for request in (python_from_rpc(sample_post()), sample_post()):
        ours = await edge.to_app_request(request)
        assert ours.method == "POST" and ours.path == "/api/v1/capsules", ours
        assert ours.query_all("tag") == ["a", "b"]
        assert ours.headers["x-custom"] == "one, two"
        assert ours.client_ip == "198.51.100.7"
        assert ours.json() == {"title": "héllo"}
    get = await edge.to_app_request(js_request("GET", "https://x.test/health", []))
    assert get.method == "GET" and get.body == b"" and get.client_ip is None
    return "ok"


async def case_request_body_is_read_up_to_the_limit():
    big = b"x" * 10_000
    # A declared length over the limit: nothing is read, the header earns the 413.
    declared = js_request("POST", "https://x.test/e", [["content-length", "10000"]], big)
    assert (await edge.to_app_request(declared, 100)).body == b""
    # Without a usable declared length the stream is read only up to limit + 1 bytes.
    streamed = js_request("POST", "https://x.test/e", [], big)
    assert len((await edge.to_app_request(streamed, 100)).body) == 101
    small = js_request("POST", "https://x.test/e", [], b"12345")
    assert (await edge.to_app_request(small, 100)).body == b"12345"
    return "ok"


async def case_response_conversion():
    headers = Headers(
        [
            ("vary", "Origin"),
            ("vary", "Accept-Encoding"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]
    )
    body = bytes(range(256))
    converted = edge.to_js_response(Response(418, body, headers))
    assert converted.status == 418
    assert converted.headers.get("vary") == "Origin, Accept-Encoding"
    assert list(converted.headers.getSetCookie()) == ["a=1", "b=2"]
    assert (await converted.arrayBuffer()).to_bytes() == body
    head = edge.to_js_response(Response(200, b"{}", Headers()), method="HEAD")
    assert head.body is None or head.body is edge.jsnull, head.body
    empty = edge.to_js_response(Response(204, b"ignored", Headers([("x-a", "1")])))
    assert empty.status == 204 and empty.headers.get("x-a") == "1"
    assert empty.body is None or empty.body is edge.jsnull, empty.body
    return "ok"


async def case_fetch_through_entrypoint():
    fresh_isolate()
    worker = runtime()
    raw = js_request(
        "POST", "https://api.test/echo?x=1", [["cf-connecting-ip", "203.0.113.5"]], b'{"a": 1}'
    )
    result = await worker.fetch(raw)
    assert result.constructor.name == "Response", result.constructor.name
    assert result.status == 201 and result.headers.get("x-echo") == "1"
    echoed = json.loads(await result.text())
    echoed.pop("vars")
    assert echoed == {
        "method": "POST",
        "path": "/echo",
        "query": {"x": "1"},
        "ip": "203.0.113.5",
        "json": {"a": 1},
        "environment": "development",
        "jwtSecretSet": False,
        "origins": ["http://localhost:3000", "http://127.0.0.1:3000"],
    }, echoed
    assert len(worker.contexts[0].promises) == 1  # the app's wait_until reached ctx
    await worker.settle()  # the waitUntil promise settles once the background task is done
    return echoed


# ---------------------------------------------------------------- dispatch, as the runtime does


def get(path="/api/v1/health"):
    return js_request("GET", f"https://api.test{path}", [])


async def echo(worker):
    response = await worker.fetch(get())
    assert response.status == 201, response.status
    return json.loads(await response.text())


def cron_controller():
    return js.boundary.newController("*/10 * * * *", js.Date.now())


def generation_batch():
    return js.boundary.makeBatch("generation-jobs", to_js([{"jobId": "j-dispatch"}]))


async def case_dispatch_every_handler_sees_vars_and_secrets():
    builder = fresh_isolate()
    worker = runtime(js_env(production_vars()))
    seen = await echo(worker)
    await worker.queue(generation_batch())
    await worker.scheduled(cron_controller())
    assert seen["environment"] == "production" and seen["jwtSecretSet"], seen
    assert len(builder.built) == 1, "one app per isolate, whichever handler comes first"
    app = builder.built[0]
    assert [handler for handler, _, _ in app.events] == ["fetch", "queue", "scheduled"]
    for handler, settings, vars in app.events:
        assert settings is app.settings, handler  # identical Settings for every handler
        assert vars["ENVIRONMENT"] == "production", (handler, sorted(vars))
        assert vars["JWT_SECRET"] == "s" * 40, (handler, sorted(vars))
    return {handler: sorted(vars) for handler, _, vars in app.events}


async def case_dispatch_queue_first_isolate_serves_http_with_production_settings():
    builder = fresh_isolate()
    worker = runtime(js_env(production_vars()))
    await worker.queue(generation_batch())  # the isolate's first event builds the app
    seen = await echo(worker)
    assert seen["environment"] == "production", seen
    assert seen["jwtSecretSet"] and seen["origins"] == ["https://app.example.com"], seen
    assert len(builder.built) == 1
    return seen


async def case_dispatch_cron_first_isolate_serves_http_with_production_settings():
    builder = fresh_isolate()
    worker = runtime(js_env(production_vars()))
    await worker.scheduled(cron_controller())
    seen = await echo(worker)
    assert seen["environment"] == "production" and seen["jwtSecretSet"], seen
    assert builder.built[0].events[0][0] == "scheduled"
    return seen


async def configuration_error_everywhere(vars, fragment):
    """fetch answers a 500 configuration_error; queue and scheduled raise (and log)."""
    fresh_isolate()
    worker = runtime(js_env(vars))
    response = await worker.fetch(get())
    body = json.loads(await response.text())
    assert response.status == 500 and body["error"]["code"] == "configuration_error", body
    assert fragment in body["error"]["message"], body
    # Served through the same decorating layers as every answer (middleware/stack.py).
    assert response.headers.get("x-request-id") == body["requestId"], body
    assert response.headers.get("x-content-type-options") == "nosniff"
    await expect_error(SettingsError, fragment, lambda: worker.queue(generation_batch()))
    await expect_error(SettingsError, fragment, lambda: worker.scheduled(cron_controller()))
    return body["error"]["message"]


async def case_dispatch_missing_environment_is_a_configuration_error():
    vars = production_vars()
    del vars["ENVIRONMENT"]
    return await configuration_error_everywhere(vars, "ENVIRONMENT is not set")


async def case_dispatch_a_bad_var_of_any_section_is_a_configuration_error():
    """Each section's vars are parsed on the first event: a bad one answers every route."""
    bad = {
        "LOG_LEVEL": "verbose",
        "EXECUTOR_TIMEOUT_S": "soon",
        "GENERATION_CONCURRENCY": "lots",
        "ANALYTICS_CACHE_TTL": "30",
        "PLAN_FREE_REQUESTS_PER_DAY": "many",
    }
    for name, value in bad.items():
        await configuration_error_everywhere(production_vars(**{name: value}), name)
    return sorted(bad)


async def case_dispatch_local_executor_backend_is_refused_on_the_edge():
    vars = production_vars(EXECUTOR_BACKEND_DEFAULT="local")
    refused = await configuration_error_everywhere(vars, "local executor backend")
    routed = production_vars(EXECUTOR_ROUTES="python=local")
    await configuration_error_everywhere(routed, "local executor backend")
    return refused


# ---------------------------------------------------------------- edge semantics


async def case_wait_until_hands_a_promise_and_keeps_nothing_alive():
    ctx = js.boundary.newContext()
    wait_until = edge.make_wait_until(ctx)

    async def work():
        await asyncio.sleep(0)
        return "done"

    async def fails():
        raise RuntimeError("background failure")

    tasks = []
    wait_until(work())
    wait_until(fails())
    tasks = [
        weakref.ref(t) for t in asyncio.all_tasks() if t.get_coro().__name__ in ("work", "fails")
    ]
    assert len(tasks) == 2, tasks
    outcomes = [o.status for o in await ctx.settled()]
    assert outcomes == ["fulfilled", "rejected"], outcomes
    await asyncio.sleep(0)
    gc.collect()
    alive = [ref for ref in tasks if ref() is not None]
    assert alive == [], "a task is still referenced after its waitUntil promise settled"
    return outcomes


async def case_edge_clock_advances_across_io():
    assert clock.monotonic is time.time, "on Workers only the wall clock advances (at I/O)"
    started = clock.monotonic()
    await js.boundary.sleep(30)  # I/O: a timer the runtime resolves
    elapsed = clock.elapsed_ms(started)
    assert elapsed >= 20, elapsed
    return elapsed


# ---------------------------------------------------------------- outbound HTTP


async def case_outbound_http_goes_through_fetch():
    import httpx

    from devcapsules.services.execution.http_client import new_client

    base = js.boundary.loopbackUrl
    async with new_client(5.0) as client:
        assert type(client._transport).__name__ == "FetchTransport", client._transport
        response = await client.post(
            f"{base}/echo?x=1", json={"code": "print(1)", "é": None}, headers={"x-key": "k"}
        )
        gzipped = await client.get(f"{base}/gzip")
    echo = response.json()
    assert response.status_code == 200 and response.headers["x-reply"] == "a", response
    assert echo["method"] == "POST" and echo["path"] == "/echo?x=1", echo
    assert echo["headers"]["x-key"] == "k", echo["headers"]
    assert echo["headers"]["content-type"] == "application/json", echo["headers"]
    assert json.loads(echo["body"]) == {"code": "print(1)", "é": None}, echo["body"]
    # fetch decoded the gzip body already: httpx must not try again.
    assert gzipped.json()["path"] == "/gzip" and "content-encoding" not in gzipped.headers
    async with new_client(httpx.Timeout(0.2)) as client:
        try:
            await client.get(f"{base}/slow")
        except httpx.TimeoutException as exc:
            timed_out = type(exc).__name__
        else:
            raise AssertionError("no timeout")
    async with new_client(5.0) as client:
        try:
            await client.get("http://127.0.0.1:1/refused")
        except httpx.ConnectError as exc:
            refused = type(exc).__name__
        else:
            raise AssertionError("no connect error")
    return {"timeout": timed_out, "refused": refused}


async def case_outbound_call_over_fetch():
    """The executor-service client's transport layer (`services.outbound`: one total
    deadline, a bounded streamed body) over the runtime's fetch. `RemoteExecutor` itself
    validates answers with pydantic, whose wasm core cannot be loaded offline."""
    from devcapsules.services import outbound
    from devcapsules.services.execution.http_client import new_client

    base = js.boundary.loopbackUrl
    url = f"{base}/api/v1/execute/languages"
    auth = {"Authorization": "Bearer secret-key"}
    async with new_client(5.0) as client:
        answer = await outbound.call(
            client, "GET", url, deadline_s=5, max_bytes=1 << 20, headers=auth
        )
        body = answer.json()
        assert answer.status == 200 and body["languages"][0]["language"] == "python", body
        assert body["echo"]["headers"]["authorization"] == "Bearer secret-key", body
        for kwargs, error in (
            ({"deadline_s": 0.3, "max_bytes": 1 << 20}, outbound.OutboundTimeout),
            ({"deadline_s": 5, "max_bytes": 10}, outbound.OutboundTooLarge),
        ):
            target = f"{base}/slow" if error is outbound.OutboundTimeout else url
            try:
                await outbound.call(client, "GET", target, **kwargs)
            except error:
                pass
            else:
                raise AssertionError(f"no {error.__name__}")
    return body["languages"]


# ---------------------------------------------------------------- Web Crypto, imports


async def case_pbkdf2_web_crypto():
    derived = await edge.pbkdf2_sha256(b"correct horse", b"NaCl-salt", 1000, 32)
    assert isinstance(derived, bytes) and len(derived) == 32
    await expect_error(ValueError, "100000", lambda: edge.pbkdf2_sha256(b"p", b"s", 100_001))
    return derived.hex()


async def case_import_hygiene():
    import entry

    # entry prepared the app once, at import (what the deploy snapshot keeps), and built
    # nothing that needs settings; the real `prepare` is checked on CPython
    # (tests/edge/test_startup.py).
    assert app_standin.PREPARED == ["prepare"], app_standin.PREPARED
    assert entry.ISOLATE.app is None
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jwt", "httpx"))
    assert heavy == [], heavy
    return sorted(m for m in sys.modules if m.startswith("devcapsules"))


# ---------------------------------------------------------------- runner


async def run_all(only=None):
    results = []
    names = [n for n in sorted(globals()) if n.startswith("case_")]
    # Import hygiene first: later cases import nothing heavy either, but check it clean.
    names.sort(key=lambda n: n != "case_import_hygiene")
    for name in names:
        if only and name != only:
            continue
        started = time.perf_counter()
        try:
            value = await globals()[name]()
            results.append({"name": name, "ok": True, "value": _jsonable(value)})
        except BaseException:
            results.append({"name": name, "ok": False, "error": traceback.format_exc()})
        results[-1]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return to_js(results, dict_converter=js.Object.fromEntries)


def _jsonable(value):
    return json.loads(json.dumps(value, default=repr))
