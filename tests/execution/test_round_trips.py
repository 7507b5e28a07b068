"""D1 round trips of `POST /api/v1/execute`: the rate limiter on the response path, the
execution record through `wait_until` after it; nothing else.

`app.handle` is given a `wait_until` that only collects, so what the response waited on
and what was deferred are counted apart (`env.db.round_trips`, the instrumented binding),
and the execution row is seen to be absent when the response is ready.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from devcapsules.http import Headers, Request
from tests.execution.support import HELLO
from tests.support.auth import create_api_key, key_headers, register


@dataclass
class Trips:
    response_path: int
    deferred: int
    recorded_before_response: bool


def executions(client) -> int:
    rows = client.run(client.env.db.prepare("SELECT count(*) AS n FROM executions").first())
    return rows["n"]


def execute(client, headers: dict[str, str]) -> Trips:
    client.settle()  # earlier background work is not this request's
    db, deferred = client.env.db, []
    request = Request(
        "POST",
        "http://testserver/api/v1/execute",
        Headers({**headers, "content-type": "application/json"}),
        json.dumps(HELLO).encode(),
        "203.0.113.9",
    )
    rows_before, before = executions(client), db.round_trips
    response = client.run(client.app.handle(request, client.env, deferred.append))
    assert response.status == 200, response.body
    on_path = db.round_trips - before
    recorded = executions(client) > rows_before
    after_response = db.round_trips
    for awaitable in deferred:
        client.run(awaitable)
    trips = Trips(on_path, db.round_trips - after_response, recorded)
    assert executions(client) == rows_before + 1  # the record was written, once
    return trips


@pytest.fixture
def credentials(client):
    owner = register(client)
    return {
        "anonymous": {},
        "jwt": owner.headers,
        "api_key": key_headers(create_api_key(client, owner, ["execute"])),
    }


@pytest.mark.parametrize("who", ["anonymous", "jwt", "api_key"])
def test_a_warm_execute_is_the_limiter_on_the_path_and_the_record_after_it(
    client, credentials, who
):
    execute(client, credentials[who])  # warm: a session's plan and a key's principal in KV
    trips = execute(client, credentials[who])
    assert trips == Trips(response_path=1, deferred=1, recorded_before_response=False)


def test_cold_credentials_cost_one_read_on_the_path(client, credentials):
    """Once a minute per user (the plan's KV copy) or per key (its principal's): the key
    also writes its last_used_at, off the path."""
    user_id = register_id(client, credentials)
    client.settle()
    client.run(client.env.kv.delete(f"plan:{user_id}"))
    assert execute(client, credentials["jwt"]) == Trips(2, 1, False)
    assert execute(client, credentials["api_key"]) == Trips(2, 2, False)


def register_id(client, credentials) -> str:
    me = client.get("/api/v1/auth/me", headers=credentials["jwt"]).json()
    return me["user"]["id"]
