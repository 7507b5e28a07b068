"""One error path: every kind of answer carries the same decorations, and no module but
the renderer (`devcapsules.errors`) and the chain's boundary turns exceptions into
responses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from devcapsules.app import App
from devcapsules.logs import Logger
from devcapsules.middleware.stack import MisconfiguredApp, default_middleware
from devcapsules.settings import Settings, SettingsError
from tests.conftest import Client

ORIGIN = "http://localhost:3000"
SRC = Path(__file__).resolve().parents[1] / "src" / "devcapsules"
SECURITY = (
    "x-content-type-options",
    "content-security-policy",
    "x-frame-options",
    "referrer-policy",
    "cache-control",
)
CORS = ("access-control-allow-origin", "access-control-expose-headers")
RATE_LIMIT = ("ratelimit-limit", "ratelimit-remaining", "x-ratelimit-reset")


def decorations(response, logs) -> dict[str, bool]:
    headers = response.headers
    request_id = headers.get("x-request-id")
    logged = [line for line in logs.lines if line.get("action") == "request"]
    return {
        "request id": bool(request_id),
        "access log": any(line.get("requestId") == request_id for line in logged),
        "security": all(name in headers for name in SECURITY),
        "cors": headers.get(CORS[0]) == ORIGIN and CORS[1] in headers,
        "vary origin": "Origin" in headers.get("vary", ""),
        "rate limit": all(name in headers for name in RATE_LIMIT),
    }


EVERYTHING = dict.fromkeys(
    ("request id", "access log", "security", "cors", "vary origin", "rate limit"), True
)
UNCOUNTED = {**EVERYTHING, "rate limit": False}


def make_client(env, loop, logs, middleware_tail=(), **vars: str) -> Client:
    settings = Settings.from_vars({**env.vars, **vars})
    from devcapsules.app import prepare

    router = prepare()(settings).router
    stack = [*default_middleware(settings), *middleware_tail]
    app = App(settings, router, middleware=stack, logger=Logger(sink=logs))
    return Client(app, env, loop)


def send(client, method, path, **headers):
    return client.request(method, path, headers={"Origin": ORIGIN, **headers})


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/execute/languages", 200),  # the reference: a success
        ("GET", "/api/v1/capsules/cap_missing", 404),  # a service's domain error
        ("GET", "/api/v1/auth/me", 401),  # a route's access check
        ("GET", "/nope", 404),  # no route
        ("POST", "/api/v1/execute/languages", 405),
        ("GET", "/api/v1/capsules/", 308),  # a redirect
    ],
)
def test_every_kind_of_answer_is_decorated_the_same_way(env, loop, logs, method, path, status):
    response = send(make_client(env, loop, logs), method, path)
    assert response.status == status
    assert decorations(response, logs) == EVERYTHING


def test_a_redirect_is_a_plain_response_without_an_error_body(env, loop, logs):
    response = send(make_client(env, loop, logs), "GET", "/api/v1/capsules/?limit=5")
    assert (response.status, response.headers["location"]) == (308, "/api/v1/capsules?limit=5")
    assert response.body == b""
    assert "content-type" not in response.headers


def test_a_429_is_decorated_like_a_success(env, loop, logs):
    client = make_client(env, loop, logs, PLAN_FREE_REQUESTS_PER_MINUTE="1")
    assert send(client, "GET", "/api/v1/execute/languages").status == 200
    refused = send(client, "GET", "/api/v1/execute/languages")
    assert refused.status == 429
    assert decorations(refused, logs) == EVERYTHING
    assert refused.headers["retry-after"]


def test_a_refused_preflight_is_decorated_and_not_counted(env, loop, logs):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-Evil",
    }
    response = send(make_client(env, loop, logs), "OPTIONS", "/api/v1/execute", **preflight)
    assert response.status == 403
    assert response.json()["error"]["code"] == "cors_headers_denied"
    assert decorations(response, logs) == UNCOUNTED


async def failing_middleware(request, ctx, call_next):
    raise RuntimeError("a middleware bug")


def test_a_failing_middleware_is_a_decorated_500(env, loop, logs):
    client = make_client(env, loop, logs, middleware_tail=[failing_middleware])
    response = send(client, "GET", "/api/v1/execute/languages")
    assert response.status == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert decorations(response, logs) == EVERYTHING
    assert "unhandled_exception" in logs.actions()


def test_the_workers_configuration_error_is_decorated_by_the_same_chain(env, loop, logs):
    error = SettingsError("JWT_SECRET is too short")
    app = MisconfiguredApp(error, {"ALLOWED_ORIGINS": ORIGIN}, logger=Logger(sink=logs))
    response = send(Client(app, env, loop), "GET", "/api/v1/capsules")
    assert response.status == 500
    body = response.json()
    assert body["error"]["code"] == "configuration_error"
    assert body["requestId"] == response.headers["x-request-id"]
    # Not counted: the plan table is part of the settings that could not be built.
    assert decorations(response, logs) == UNCOUNTED


# ---------------------------------------------------------------- one renderer

RENDERER = SRC / "errors.py"
BOUNDARY = SRC / "app.py"
RESPONSE_BUILDERS = {"json_response", "empty_response", "Response", "to_js_response"}
RENDERER_NAMES = {"error_response", "error_body"}


def called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def sources():
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def test_no_module_outside_the_renderer_turns_an_exception_into_a_response():
    offenders = []
    for path, tree in sources():
        if path in (RENDERER, BOUNDARY):
            continue
        for handler in (n for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler)):
            for node in (n for stmt in handler.body for n in ast.walk(stmt)):
                if isinstance(node, ast.Call) and called_name(node) in RESPONSE_BUILDERS:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_only_the_chain_boundary_calls_the_renderer():
    callers = {
        path.relative_to(SRC).as_posix()
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.alias)
        and (node.id if isinstance(node, ast.Name) else node.name) in RENDERER_NAMES
    }
    assert callers <= {"errors.py", "app.py"}


def test_services_and_the_cli_raise_and_catch_domain_errors_not_http_ones():
    speaking_http = [
        path.relative_to(SRC).as_posix()
        for path, tree in sources()
        if path.relative_to(SRC).as_posix().startswith(("services/", "local/cli.py"))
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "devcapsules.http"
        and any(alias.name == "HTTPError" for alias in node.names)
    ]
    assert speaking_http == []


def test_every_domain_error_has_its_status_in_the_one_table():
    from devcapsules import errors

    kinds = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.DomainError)
    ]
    assert set(kinds) - {errors.DomainError} == set(errors.STATUS)
