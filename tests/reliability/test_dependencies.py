"""An unavailable dependency is a 503 naming it, with Retry-After; a refusal of a call
we got wrong stays a 500 (retrying cannot fix a bug)."""

from __future__ import annotations

import pytest

from devcapsules.app import App
from devcapsules.bindings.protocols import D1Error, KVError, QueueError
from devcapsules.http import json_response
from devcapsules.logs import Logger
from devcapsules.routing import Route
from devcapsules.settings import Settings
from tests.capsules.support import capsule_body
from tests.conftest import Client
from tests.support.auth import register

GENERATE = {"prompt": "Reverse a string", "language": "python", "difficulty": "easy"}


@pytest.mark.sqlite_only
def test_a_failing_d1_write_is_503_database_unavailable(client, env, logs):
    account = register(client)
    env.db.connection.execute("PRAGMA query_only = ON")  # reads still work, writes fail
    for path, body in (("/api/v1/capsules", capsule_body()), ("/api/v1/generate", GENERATE)):
        response = client.post(path, json=body, headers=account.headers)
        assert response.status == 503, response.body
        error = response.json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["details"] == {"dependency": "d1"}
        assert "readonly" not in error["message"]  # the cause goes to the log only
        assert int(response.headers["retry-after"]) > 0
    logged = [line for line in logs.lines if line["action"] == "dependency_unavailable"]
    assert logged and "readonly" in logged[0]["error"]
    env.db.connection.execute("PRAGMA query_only = OFF")
    listed = client.get("/api/v1/capsules?owner=me", headers=account.headers).json()
    assert listed["capsules"] == []  # nothing was half-written


def raising(exc: Exception):
    async def handler(request, ctx):
        raise exc

    return handler


def app_raising(exc: Exception) -> App:
    async def fine(request, ctx):
        return json_response({"success": True})

    routes = [Route("/boom", raising(exc), methods=["GET"]), Route("/fine", fine)]
    return App(Settings(), routes, logger=Logger(sink=lambda line: None))


@pytest.mark.parametrize(
    "exc, code",
    [
        (D1Error("D1_ERROR: Network connection lost."), "database_unavailable"),
        (D1Error("D1_ERROR: database or disk is full: SQLITE_ERROR"), "database_unavailable"),
        (KVError("KV GET failed: 503 Service Unavailable"), "kv_unavailable"),
        (QueueError("Queue send failed: Network connection lost."), "queue_unavailable"),
    ],
)
def test_an_outage_names_the_dependency(env, loop, exc, code):
    response = Client(app_raising(exc), env, loop).get("/boom")
    assert response.status == 503
    assert response.json()["error"]["code"] == code
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    "exc",
    [
        D1Error("D1_ERROR: UNIQUE constraint failed: users.email: SQLITE_CONSTRAINT"),
        D1Error('D1_ERROR: near "SELEC": syntax error: SQLITE_ERROR'),
        KVError("KV PUT failed: 400 Invalid expiration_ttl of 5."),
        QueueError("Queue send failed: message length 200000 bytes exceeds limit"),
    ],
)
def test_a_refused_call_is_our_bug_a_500(env, loop, exc):
    response = Client(app_raising(exc), env, loop).get("/boom")
    assert response.status == 500
    assert response.json()["error"]["code"] == "internal_error"
