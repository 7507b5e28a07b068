"""Capsule suite fixtures: two accounts and a quiet rate limiter.

The request budget is not what these tests are about, and some page through many rows:
the plan limits are lifted through the same vars an operator would use.
"""

from __future__ import annotations

import pytest

from tests.support.auth import Account, register


@pytest.fixture
def test_vars(test_vars: dict[str, str]) -> dict[str, str]:
    lifted = {f"PLAN_FREE_REQUESTS_PER_{window}": "unlimited" for window in ("MINUTE", "DAY")}
    return {**test_vars, **lifted}


@pytest.fixture
def owner(client) -> Account:
    return register(client)


@pytest.fixture
def other(client) -> Account:
    return register(client)
