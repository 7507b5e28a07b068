"""A plan change applies to the next request, whatever the caller's token says: the
limiter and the generation quota read the plan as D1 has it (through a 60 s KV copy that
`devcapsules users set-plan` drops)."""

from __future__ import annotations

import pytest

from devcapsules.services.accounts import principals
from tests.limits.conftest import FakeClock, make_key, make_user

GENERATE = "/api/v1/generate"


@pytest.fixture
def test_vars(test_vars: dict[str, str]) -> dict[str, str]:
    # Limits that differ between the plans, and no window that a test's few calls reach.
    return {
        **test_vars,
        "PLAN_FREE_REQUESTS_PER_MINUTE": "10",
        "PLAN_FREE_REQUESTS_PER_DAY": "100",
        "PLAN_FREE_GENERATIONS_PER_DAY": "2",
        "PLAN_ENTERPRISE_REQUESTS_PER_MINUTE": "1000",
    }


@pytest.fixture
def kv_clock(client) -> FakeClock:
    clock = FakeClock(client.env.kv.clock())
    client.env.kv.clock = clock
    return clock


def email_of(client, user_id: str) -> str:
    sql = "SELECT email FROM users WHERE id = ?"
    return client.run(client.env.db.prepare(sql).bind(user_id).first("email"))


def downgrade(client, user_id: str, plan: str) -> None:
    """What `devcapsules users set-plan` does."""
    client.run(principals.change_plan(client.context(), email_of(client, user_id), plan))


def generate(client, headers, n: int):
    body = {"prompt": f"Reverse a string, variant {n}", "language": "python"}
    return client.post(GENERATE, json=body, headers=headers)


def test_a_downgrade_changes_the_rate_limit_on_the_next_request(client):
    caller = make_user(client, "enterprise")  # the token says enterprise until it expires
    first = client.get("/nope", headers=caller.headers)
    assert first.headers["RateLimit-Limit"] == "1000"
    client.settle()  # the plan is cached now
    downgrade(client, caller.id, "free")
    second = client.get("/nope", headers=caller.headers)
    assert second.headers["RateLimit-Limit"] == "10"


def test_a_downgrade_enforces_the_generation_quota_at_once(client):
    caller = make_user(client, "enterprise")  # unlimited generations
    for n in range(3):
        assert generate(client, caller.headers, n).status == 202
    client.settle()
    downgrade(client, caller.id, "free")  # 2 a day in the test vars, 3 used already
    refused = generate(client, caller.headers, 99)
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "generation_quota_exceeded"
    assert refused.json()["error"]["details"]["plan"] == "free"


def test_api_keys_follow_the_downgrade_at_once_too(client):
    caller = make_user(client, "enterprise")
    key = make_key(client, caller)
    assert client.get("/nope", headers=key).headers["RateLimit-Limit"] == "1000"
    client.settle()
    downgrade(client, caller.id, "free")
    assert client.get("/nope", headers=key).headers["RateLimit-Limit"] == "10"


@pytest.mark.sqlite_only  # moves the local KV's clock
def test_a_plan_changed_behind_our_back_applies_once_the_copy_expires(client, kv_clock):
    caller = make_user(client, "enterprise")
    client.get("/nope", headers=caller.headers)
    client.settle()
    sql = "UPDATE users SET plan = 'free' WHERE id = ?"  # SQL on D1: no invalidation
    client.run(client.env.db.prepare(sql).bind(caller.id).run())
    assert client.get("/nope", headers=caller.headers).headers["RateLimit-Limit"] == "1000"
    kv_clock.advance(principals.CACHE_TTL_SECONDS)
    assert client.get("/nope", headers=caller.headers).headers["RateLimit-Limit"] == "10"
