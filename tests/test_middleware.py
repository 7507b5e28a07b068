"""Each middleware through the real app chain, as a client sees it."""

from devcapsules.app import App
from devcapsules.http import HTTPError, json_response
from devcapsules.logs import Logger
from devcapsules.routing import Route
from devcapsules.settings import CorsSettings, Settings, SettingsError
from tests.conftest import Client, LogCapture


async def boom(request, ctx):
    raise RuntimeError("secret database password is hunter2")


async def teapot(request, ctx):
    raise HTTPError(418, "teapot", "I am a teapot", details={"why": "tea"})


async def misconfigured(request, ctx):
    raise SettingsError("ANALYTICS_CACHE_TTL must be at least 60")


async def echo(request, ctx):
    return json_response({"body": request.json(), "requestId": ctx.request_id})


def make_client(env, loop, logs: LogCapture, **settings) -> Client:
    settings = Settings(cors=CorsSettings(("http://localhost:3000",)), **settings)
    routes = [
        Route("/boom", boom),
        Route("/teapot", teapot),
        Route("/echo", echo, methods=["POST"]),
        Route("/misconfigured", misconfigured),
    ]
    return Client(App(settings, routes, logger=Logger(sink=logs)), env, loop)


def test_unknown_exception_is_generic_500_and_logged_with_request_id(env, loop, logs):
    response = make_client(env, loop, logs).get("/boom")
    body = response.json()
    assert response.status == 500
    assert body == {
        "success": False,
        "error": {
            "code": "internal_error",
            "message": "An unexpected error occurred",
            "details": None,
        },
        "requestId": response.headers["x-request-id"],
    }
    assert b"hunter2" not in response.body
    logged = [line for line in logs.lines if line["action"] == "unhandled_exception"]
    assert logged[0]["requestId"] == body["requestId"]
    assert "hunter2" in logged[0]["message"]


def test_http_error_is_rendered_with_code_message_details(env, loop, logs):
    response = make_client(env, loop, logs).get("/teapot")
    assert response.status == 418
    assert response.json()["error"] == {
        "code": "teapot",
        "message": "I am a teapot",
        "details": {"why": "tea"},
    }


def test_safe_inbound_request_id_is_honoured(env, loop, logs):
    response = make_client(env, loop, logs).get("/teapot", headers={"X-Request-Id": "abc-123-def"})
    assert response.headers["x-request-id"] == "abc-123-def"
    assert response.json()["requestId"] == "abc-123-def"


def test_unsafe_inbound_request_id_is_replaced(env, loop, logs):
    response = make_client(env, loop, logs).get(
        "/teapot", headers={"X-Request-Id": 'bad id"\n{"level":"x"}'}
    )
    assert response.headers["x-request-id"].startswith("req_")


def test_access_log_line_is_structured_json(env, loop, logs):
    make_client(env, loop, logs).get("/teapot")
    line = next(line for line in logs.lines if line["action"] == "request")
    assert line["level"] == "info"
    assert line["status"] == 418 and line["path"] == "/teapot" and line["method"] == "GET"
    assert line["requestId"].startswith("req_")
    assert line["timestamp"].endswith("Z")


def test_malformed_json_is_400(env, loop, logs):
    response = make_client(env, loop, logs).request("POST", "/echo", body=b"{nope")
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_body_over_limit_is_413(env, loop, logs):
    client = make_client(env, loop, logs, max_body_bytes=64)
    assert client.post("/echo", json={"a": "x" * 10}).status == 200
    response = client.post("/echo", json={"a": "x" * 100})
    assert response.status == 413
    assert response.json()["error"]["details"] == {"limitBytes": 64}


def test_declared_content_length_over_limit_is_413_without_reading(env, loop, logs):
    client = make_client(env, loop, logs, max_body_bytes=64)
    response = client.request("POST", "/echo", body=b"{}", headers={"Content-Length": "999999"})
    assert response.status == 413


def test_cors_preflight_from_allowed_origin(env, loop, logs):
    response = make_client(env, loop, logs).request(
        "OPTIONS",
        "/echo",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, Authorization",
        },
    )
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "Origin"


def test_cors_preflight_from_other_origin_is_refused(env, loop, logs):
    response = make_client(env, loop, logs).request(
        "OPTIONS",
        "/echo",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 403
    assert "access-control-allow-origin" not in response.headers


def test_cors_preflight_with_unlisted_header_is_refused(env, loop, logs):
    response = make_client(env, loop, logs).request(
        "OPTIONS",
        "/echo",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Evil",
        },
    )
    assert response.status == 403
    assert response.json()["error"]["code"] == "cors_headers_denied"


def test_cors_headers_decorate_error_responses(env, loop, logs):
    response = make_client(env, loop, logs).get(
        "/teapot", headers={"Origin": "http://localhost:3000"}
    )
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "X-Request-Id" in response.headers["access-control-expose-headers"]


def test_no_cors_headers_for_unlisted_origin(env, loop, logs):
    response = make_client(env, loop, logs).get("/teapot", headers={"Origin": "https://x.example"})
    assert "access-control-allow-origin" not in response.headers


def test_wildcard_origin(env, loop, logs):
    settings = Settings(cors=CorsSettings(("*",)))
    client = Client(App(settings, [Route("/teapot", teapot)], logger=Logger(sink=logs)), env, loop)
    response = client.get("/teapot", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers


def test_deeply_nested_json_is_400_not_500(env, loop, logs):
    body = b"[" * 50_000 + b"]" * 50_000
    response = make_client(env, loop, logs).request("POST", "/echo", body=body)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_bad_lazily_read_var_is_a_named_configuration_error(env, loop, logs):
    response = make_client(env, loop, logs).get("/misconfigured")
    assert response.status == 500
    error = response.json()["error"]
    assert error["code"] == "configuration_error"
    assert "ANALYTICS_CACHE_TTL" in error["message"]


def test_responses_vary_on_origin_even_without_cors_headers(env, loop, logs):
    response = make_client(env, loop, logs).get("/teapot")  # no Origin header at all
    assert "Origin" in response.headers.get_all("vary")


def test_request_ids_come_from_the_os_random_source_256_at_a_time(monkeypatch):
    # One getrandom call per request was a syscall on every answer's path: ids are read
    # 256 at a time, each still 12 bytes of the OS's random source, never handed out twice.
    import random

    from devcapsules.middleware import request_log

    reads: list[bytes] = []

    def urandom(size: int) -> bytes:
        reads.append(random.Random(len(reads)).randbytes(size))  # distinct, reproducible
        return reads[-1]

    monkeypatch.setattr(request_log, "_ids", [])
    monkeypatch.setattr(request_log.os, "urandom", urandom)
    ids = [request_log.new_request_id() for _ in range(300)]
    assert [len(read) for read in reads] == [12 * 256, 12 * 256]
    issued = {"req_" + read[i : i + 12].hex() for read in reads for i in range(0, len(read), 12)}
    assert len(set(ids)) == 300 and set(ids) <= issued


def test_a_forked_child_never_hands_out_its_parents_request_ids():
    import os

    from devcapsules.middleware.request_log import new_request_id

    new_request_id()  # the parent holds unused ids now
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id, leave without running pytest's exit
        try:
            os.write(writer, new_request_id().encode())
        finally:
            os._exit(0)  # whatever happened: never go on running the suite in the child
    os.close(writer)
    os.waitpid(pid, 0)
    child_id = os.read(reader, 100).decode()
    os.close(reader)
    assert child_id.startswith("req_") and child_id != new_request_id()
