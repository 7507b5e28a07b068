"""D1 round trips per request, counted by the instrumented binding (`env.db.round_trips`).

What the capsule routes add is measured against the same credential's request to an
unknown path, which pays only the middleware's share (authentication, rate limiting);
that share is asserted separately, so a change on either side shows up.
"""

from __future__ import annotations

import pytest

from devcapsules.schemas.execution import SuiteResult
from tests.capsules.support import BASE, capsule_body, create, publish_directly, url
from tests.support.auth import create_api_key, key_headers


def round_trips(client, method: str, path: str, **kwargs) -> tuple[object, int]:
    client.settle()  # background work (e.g. an API key's last_used_at) is not this request's
    before = client.env.db.round_trips
    response = client.request(method, path, **kwargs)
    client.settle()
    return response, client.env.db.round_trips - before


def warm_credential(client, headers: dict) -> None:
    """A session's plan (and an API key's principal) is read from D1 once a minute and
    kept in KV; measure requests with that copy warm."""
    round_trips(client, "GET", "/api/v1/no-such-route", headers=headers)


def added(client, method: str, path: str, headers: dict, **kwargs) -> int:
    """Round trips of the request minus those of a request that matches no route."""
    warm_credential(client, headers)
    _, baseline = round_trips(client, "GET", "/api/v1/no-such-route", headers=headers)
    response, total = round_trips(client, method, path, headers=headers, **kwargs)
    assert response.status < 400, response.body
    return total - baseline


def test_middleware_share_without_and_with_a_session(client, owner):
    # Measured so the per-route numbers below stay honest; with the plan's KV copy warm,
    # authentication of a session (a JWT) needs no D1 at all, and one read when cold.
    _, anonymous = round_trips(client, "GET", "/api/v1/no-such-route")
    _, cold = round_trips(client, "GET", "/api/v1/no-such-route", headers=owner.headers)
    _, session = round_trips(client, "GET", "/api/v1/no-such-route", headers=owner.headers)
    assert session == anonymous and cold == anonymous + 1


@pytest.mark.parametrize("who", ["session", "api_key", "anonymous"])
def test_reads_cost_one_query(client, owner, who):
    capsule = create(client, owner)
    publish_directly(client, capsule["id"])
    headers = {
        "session": owner.headers,
        "api_key": key_headers(create_api_key(client, owner, ["capsules:read"])),
        "anonymous": {},
    }[who]
    client.get(BASE, headers=headers)  # warm an API key's cache: a KV read, not D1
    assert added(client, "GET", url(capsule["id"]), headers) == 1
    assert added(client, "GET", f"{BASE}?limit=5&tag=math&q=add", headers) == 1
    etag = client.get(url(capsule["id"]), headers=headers).headers["etag"]
    assert added(client, "GET", url(capsule["id"]), {**headers, "If-None-Match": etag}) == 1


def test_create_is_one_batch(client, owner):
    assert added(client, "POST", BASE, owner.headers, json_body=capsule_body()) == 1
    untagged = capsule_body(tags=[])
    assert added(client, "POST", BASE, owner.headers, json_body=untagged) == 1


def test_writes_on_a_capsule_are_one_read_and_one_batch(client, owner):
    class Passing:
        async def run_tests(self, code, cases, language, function_name, *, limits):
            return SuiteResult.model_validate(
                {"summary": {"passed": len(cases), "total": len(cases), "status": "passed"}}
                | {"results": [], "compileOutput": "", "error": None, "timeMs": 1}
                | {"memoryKb": 0, "language": language, "version": ""}
            )

    client.inject(executor=Passing())
    capsule = create(client, owner)
    path = url(capsule["id"])
    assert added(client, "PATCH", path, owner.headers, json_body={"title": "x"}) == 2
    assert added(client, "PATCH", path, owner.headers, json_body={"tags": ["a", "b"]}) == 2
    assert added(client, "POST", url(capsule["id"], "/publish"), owner.headers) == 2
    assert added(client, "POST", url(capsule["id"], "/duplicate"), owner.headers) == 2
    assert added(client, "DELETE", path, owner.headers) == 2


def test_each_write_is_a_single_batch(client, owner, monkeypatch):
    """Not only the count: a write goes out as exactly one `batch` call."""
    db = client.env.db
    batches = []
    original = db.batch

    async def counting(statements):
        batches.append(len(statements))
        return await original(statements)

    monkeypatch.setattr(db, "batch", counting)
    capsule = create(client, owner)  # capsule + its tags
    client.patch(url(capsule["id"]), json={"tags": ["x"], "title": "t"}, headers=owner.headers)
    client.delete(url(capsule["id"]), headers=owner.headers)
    assert batches == [2, 3, 1]
