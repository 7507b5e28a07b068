"""Small plan limits and a controllable clock, so boundaries are reached in a few requests
and a UTC midnight is crossed without sleeping."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from devcapsules.app import App, build_app, default_dependencies
from devcapsules.logs import Logger
from devcapsules.services.accounts import api_keys, sessions
from devcapsules.services.accounts.tokens import issue_access_token
from devcapsules.settings import Settings

# 2026-03-01T12:00:10Z: mid-minute, mid-day.
NOON = int(datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC).timestamp())
SMALL_LIMITS = {
    "PLAN_FREE_REQUESTS_PER_MINUTE": "3",
    "PLAN_FREE_REQUESTS_PER_DAY": "5",
    "PLAN_FREE_GENERATIONS_PER_DAY": "2",
    "PLAN_CREATOR_REQUESTS_PER_MINUTE": "4",
    "PLAN_CREATOR_REQUESTS_PER_DAY": "100",
    "PLAN_ENTERPRISE_REQUESTS_PER_MINUTE": "3",
}
_emails = itertools.count(1)


class FakeClock:
    """The app's clock (`ctx.deps.clock`) at a time the test moves; also callable as epoch
    seconds, the form the local KV's clock takes."""

    def __init__(self, now: float = NOON):
        self.epoch = float(now)

    def __call__(self) -> float:
        return self.epoch

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, UTC)

    def monotonic(self) -> float:
        return self.epoch

    def advance(self, seconds: float) -> None:
        self.epoch += seconds


@dataclass
class Caller:
    id: str
    plan: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def test_vars(test_vars: dict[str, str]) -> dict[str, str]:
    return {**test_vars, **SMALL_LIMITS}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(env, logs, clock) -> App:
    settings = Settings.from_vars(env.vars)
    logger = Logger(level=settings.logging.level, sink=logs)
    deps = replace(default_dependencies(settings, logger), clock=clock)
    return build_app(settings, logger=logger, dependencies=deps)


def make_user(client, plan: str = "free") -> Caller:
    """A user and an access token, made directly: no API request spends any budget."""
    email = f"limits{next(_emails)}@example.com"
    user = client.run(sessions.create_user(client.context(), email, "Test", "unused-hash", plan))
    return renew_token(client, Caller(user.id, plan, ""))


def renew_token(client, caller: Caller) -> Caller:
    """A fresh access token at the app clock's now: a token lives 15 minutes on the same
    clock the windows use, so a test that jumps hours ahead renews it first."""
    now = client.app.deps.clock.now()
    caller.token, _ = issue_access_token(client.app.settings, caller.id, caller.plan, now)
    return caller


def make_key(client, caller: Caller) -> dict[str, str]:
    key, _ = client.run(
        api_keys.create(client.context(), caller.id, "widget", ["capsules:read"], None)
    )
    return {"Authorization": f"Bearer {key}"}


def counter_rows(client, subject: str) -> list[tuple[str, int, int]]:
    """(window, window_start, count) rows for a subject, oldest first."""
    sql = (
        "SELECT window, window_start, count FROM usage_counters WHERE subject = ?"
        " ORDER BY window_start, window"
    )
    result = client.run(client.env.db.prepare(sql).bind(subject).all())
    return [(r["window"], r["window_start"], r["count"]) for r in result["results"]]
