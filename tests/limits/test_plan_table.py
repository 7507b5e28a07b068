"""The one plan table and its PLAN_* overrides, validated when settings are built."""

from __future__ import annotations

import pytest

from devcapsules.services.plans import DEFAULT_PLANS, PlanLimits
from devcapsules.settings import Settings, SettingsError
from tests.limits.conftest import make_user


def windows(row: PlanLimits) -> PlanLimits:
    """A row's request windows and generation quota (its execution caps left at defaults)."""
    return PlanLimits(row.requests_per_minute, row.requests_per_day, row.generations_per_day)


def test_defaults_are_the_seed_table():
    assert {
        "free": PlanLimits(10, 100, 5),
        "creator": PlanLimits(60, 5_000, 100),
        "team": PlanLimits(300, 25_000, 500),
        "enterprise": PlanLimits(1_000, None, None),
    } == {plan: windows(row) for plan, row in DEFAULT_PLANS.items() if plan != "anonymous"}
    assert Settings().limits.plans == DEFAULT_PLANS
    assert Settings.from_vars({}).limits.plans == DEFAULT_PLANS


def test_vars_override_single_numbers_and_leave_the_rest():
    limits = Settings.from_vars(
        {
            "PLAN_CREATOR_REQUESTS_PER_MINUTE": "120",
            "PLAN_TEAM_REQUESTS_PER_DAY": "unlimited",
            "PLAN_ENTERPRISE_GENERATIONS_PER_DAY": "10000",
            "PLAN_FREE_GENERATIONS_PER_DAY": "0",
        }
    ).limits
    assert windows(limits.for_plan("creator")) == PlanLimits(120, 5_000, 100)
    assert windows(limits.for_plan("team")) == PlanLimits(300, None, 500)
    assert windows(limits.for_plan("enterprise")) == PlanLimits(1_000, None, 10_000)
    assert windows(limits.for_plan("free")) == PlanLimits(10, 100, 0)
    # Anonymous callers are counted with the free plan's request windows.
    anonymous, free = limits.anonymous, limits.for_plan("free")
    assert (anonymous.requests_per_minute, anonymous.requests_per_day) == (10, 100)
    assert (free.requests_per_minute, free.requests_per_day) == (10, 100)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PLAN_GOLD_REQUESTS_PER_MINUTE", "5", "not a plan-limit var"),
        ("PLAN_FREE_REQUEST_PER_MINUTE", "5", "not a plan-limit var"),
        ("PLAN_FREE_REQUESTS_PER_MINUTE", "ten", "must be an integer"),
        ("PLAN_FREE_REQUESTS_PER_MINUTE", "0", "at least 1"),
        ("PLAN_FREE_REQUESTS_PER_DAY", "-5", "at least 1"),
        ("PLAN_FREE_GENERATIONS_PER_DAY", "-1", "at least 0"),
        # Execution caps: numbers of their kind, at least what a run needs to start.
        ("PLAN_FREE_MAX_TIME_LIMIT_S", "soon", "must be a number"),
        ("PLAN_FREE_MAX_TIME_LIMIT_S", "0.01", "at least 0.1"),
        ("PLAN_TEAM_MAX_MEMORY_LIMIT_MB", "8", "at least 16"),
        ("PLAN_TEAM_MAX_SOURCE_BYTES", "1.5", "must be an integer"),
        ("PLAN_CREATOR_MAX_TEST_CASES", "unlimited", "must be an integer"),
        ("PLAN_CREATOR_MAX_TEST_RUN_S", "nan", "at least 1"),
        ("PLAN_ANONYMOUS_MAX_STDIN_BYTES", "0", "at least 1"),
        ("PLAN_ANONYMOUS_GENERATIONS_PER_DAY", "3", "needs an account"),
        ("PLAN_FREE_MAX_PROCESSES", "9", "not a plan-limit var"),
    ],
)
def test_a_wrong_override_stops_the_worker_with_a_clear_message(name, value, message):
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_vars({name: value})
    assert name in str(caught.value)


def test_an_unknown_plan_gets_the_free_numbers():
    assert Settings().limits.for_plan("retired-plan") == DEFAULT_PLANS["free"]


def test_me_shows_limits_and_usage_for_the_callers_plan(client):
    caller = make_user(client, "creator")
    client.get("/api/v1/auth/me", headers=caller.headers)
    body = client.get("/api/v1/auth/me", headers=caller.headers).json()
    assert body["limits"] == {
        "requestsPerMinute": 4,
        "requestsPerDay": 100,
        "generationsPerDay": 100,
    }
    requests = body["usage"]["requests"]
    # The asking request is counted already, like its RateLimit headers say.
    assert requests["minute"] == {
        "used": 2,
        "limit": 4,
        "remaining": 2,
        "resetAt": "2026-03-01T12:01:00.000Z",
    }
    assert requests["day"]["used"] == 2 and requests["day"]["remaining"] == 98
    assert requests["day"]["resetAt"] == "2026-03-02T00:00:00.000Z"
    assert body["usage"]["generations"]["day"]["used"] == 0


def test_every_execution_cap_is_overridable_per_row():
    limits = Settings.from_vars(
        {
            "PLAN_ANONYMOUS_MAX_TEST_CASES": "5",
            "PLAN_ANONYMOUS_REQUESTS_PER_MINUTE": "3",
            "PLAN_ENTERPRISE_MAX_TEST_RUN_S": "60",
            "PLAN_TEAM_DEFAULT_TIME_LIMIT_S": "3.5",
            "PLAN_CREATOR_MAX_OUTPUT_BYTES": "1024",
        }
    ).limits
    assert limits.anonymous.execution.max_test_cases == 5
    assert limits.anonymous.requests_per_minute == 3
    assert limits.for_plan("free").requests_per_minute == 10  # not the other way round
    assert limits.for_plan("enterprise").execution.suite_wall_s(10, 100) == 60
    assert limits.for_plan("team").execution.clamp(None, None).time_limit_s == 3.5
    assert limits.for_plan("creator").execution.max_output_bytes == 1024
    assert limits.ceiling().max_test_run_s == 60


def test_a_free_override_of_the_request_windows_applies_to_anonymous_callers_too():
    limits = Settings.from_vars({"PLAN_FREE_REQUESTS_PER_DAY": "7"}).limits
    assert limits.anonymous.requests_per_day == 7
