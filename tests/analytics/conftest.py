"""Analytics fixtures: an owner with capsules, another user, and a quiet rate limiter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.capsules.support import create
from tests.support.auth import Account, register

EVENTS = "/api/v1/analytics/events"


@pytest.fixture
def test_vars(test_vars: dict[str, str]) -> dict[str, str]:
    # Request budgets are not under test here, and some tests send many requests.
    lifted = {f"PLAN_FREE_REQUESTS_PER_{window}": "unlimited" for window in ("MINUTE", "DAY")}
    return {**test_vars, **lifted, "ANALYTICS_SESSION_SALT": "test-salt"}


@pytest.fixture
def owner(client) -> Account:
    return register(client)


@pytest.fixture
def other(client) -> Account:
    return register(client)


@pytest.fixture
def capsule(client, owner) -> dict[str, Any]:
    return create(client, owner, title="Add two numbers")
