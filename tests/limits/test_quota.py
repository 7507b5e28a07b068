"""The generation quota: consume at accept time, refund on our failures, idempotent per job."""

from __future__ import annotations

from dataclasses import replace

import pytest

from devcapsules.app import build_app, default_dependencies
from devcapsules.errors import QuotaExceeded
from devcapsules.logs import Logger
from devcapsules.services import quota
from devcapsules.settings import Settings
from tests.limits.conftest import NOON, counter_rows, make_user

MIDNIGHT = NOON - NOON % 86_400


@pytest.fixture
def ctx(app, env):
    return app.context(env)


def consume(client, ctx, caller, job_id):
    return client.run(quota.consume_generation(ctx, caller.id, caller.plan, job_id))


def refund(client, job_id):
    return client.run(quota.refund_generation(client.context(), job_id))


def generations(client, caller) -> int:
    rows = counter_rows(client, caller.id)
    return sum(count for window, _, count in rows if window == "generation_day")


def test_consume_counts_until_the_plan_limit_then_429(client, ctx):
    caller = make_user(client)  # free: 2 generations per day in these tests
    first = consume(client, ctx, caller, "gen_1")
    second = consume(client, ctx, caller, "gen_2")
    assert (first.used, second.used, second.limit) == (1, 2, 2)
    assert first.charged and first.day == MIDNIGHT and first.reset_at == MIDNIGHT + 86_400
    with pytest.raises(QuotaExceeded) as refused:
        consume(client, ctx, caller, "gen_3")
    assert refused.value.status == 429
    assert refused.value.code == "generation_quota_exceeded"
    assert refused.value.details == {
        "window": "day",
        "plan": "free",
        "limit": 2,
        "used": 2,
        "resetAt": "2026-03-02T00:00:00.000Z",
    }
    assert refused.value.headers["Retry-After"] == str(MIDNIGHT + 86_400 - NOON)
    assert generations(client, caller) == 2  # the refusal consumed nothing


def test_failed_job_is_refunded_and_frees_a_generation(client, ctx):
    caller = make_user(client)
    consume(client, ctx, caller, "gen_a")
    consume(client, ctx, caller, "gen_b")
    assert refund(client, "gen_b") is True
    assert generations(client, caller) == 1
    assert consume(client, ctx, caller, "gen_c").used == 2


def test_refund_is_idempotent_under_redelivery(client, ctx):
    caller = make_user(client)
    consume(client, ctx, caller, "gen_a")
    consume(client, ctx, caller, "gen_b")
    assert [refund(client, "gen_b") for _ in range(3)] == [True, False, False]
    assert generations(client, caller) == 1


def test_refunding_an_uncharged_job_is_a_no_op(client, ctx):
    caller = make_user(client)
    consume(client, ctx, caller, "gen_a")
    assert refund(client, "gen_never_charged") is False
    assert generations(client, caller) == 1


def test_consume_is_idempotent_per_job(client, ctx):
    caller = make_user(client)
    first = consume(client, ctx, caller, "gen_a")
    again = consume(client, ctx, caller, "gen_a")
    assert first.charged and not again.charged
    assert again.used == 1 and again.day == first.day
    assert generations(client, caller) == 1
    # A refunded job stays refunded: charging its id again does not re-charge.
    refund(client, "gen_a")
    assert not consume(client, ctx, caller, "gen_a").charged
    assert generations(client, caller) == 0


def test_refund_after_midnight_goes_back_to_the_day_charged(client, ctx, clock):
    caller = make_user(client)
    consume(client, ctx, caller, "gen_late")
    clock.epoch = MIDNIGHT + 86_400 + 5  # the job fails just after midnight
    consume(client, ctx, caller, "gen_next_day")
    assert refund(client, "gen_late") is True
    rows = {(w, start): n for w, start, n in counter_rows(client, caller.id)}
    assert rows[("generation_day", MIDNIGHT)] == 0
    assert rows[("generation_day", MIDNIGHT + 86_400)] == 1


def test_unlimited_plan_is_never_refused_but_still_counted(client, ctx):
    caller = make_user(client, "enterprise")
    grants = [consume(client, ctx, caller, f"gen_{i}") for i in range(20)]
    assert grants[-1].used == 20 and grants[-1].limit is None
    assert generations(client, caller) == 20


def test_zero_generations_refuses_the_first(client, env, clock):
    settings = Settings.from_vars({**env.vars, "PLAN_TEAM_GENERATIONS_PER_DAY": "0"})
    deps = replace(default_dependencies(settings, Logger()), clock=clock)
    ctx = build_app(settings, dependencies=deps).context(env)
    caller = make_user(client, "team")
    with pytest.raises(QuotaExceeded) as refused:
        consume(client, ctx, caller, "gen_x")
    assert refused.value.details["limit"] == 0


def test_each_call_is_one_d1_round_trip(client, ctx):
    caller = make_user(client)
    before = client.env.db.round_trips
    consume(client, ctx, caller, "gen_a")
    refund(client, "gen_a")
    assert client.env.db.round_trips - before == 2


def test_me_shows_generation_usage(client, ctx):
    caller = make_user(client)
    consume(client, ctx, caller, "gen_a")
    body = client.get("/api/v1/auth/me", headers=caller.headers).json()
    assert body["usage"]["generations"]["day"] == {
        "used": 1,
        "limit": 2,
        "remaining": 1,
        "resetAt": "2026-03-02T00:00:00.000Z",
    }
