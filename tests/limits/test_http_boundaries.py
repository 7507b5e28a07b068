"""Done-when: concurrent requests at a plan's boundary, over real HTTP against the local
host (`devcapsules dev`), get exactly the allowed number of 2xx and the rest 429."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest

from tests.support.server import ROOT, dev_server

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
BURST = 24
LIMITS = {
    "PLAN_FREE_REQUESTS_PER_MINUTE": "5",  # minute window under test
    "PLAN_FREE_REQUESTS_PER_DAY": "1000",
    "PLAN_CREATOR_REQUESTS_PER_MINUTE": "1000",
    "PLAN_CREATOR_REQUESTS_PER_DAY": "7",  # day window under test
    "PLAN_ENTERPRISE_REQUESTS_PER_MINUTE": "1000",  # and no day cap at all
}


def create_user(state, email: str, plan: str) -> None:
    command = [sys.executable, "-m", "devcapsules.local.cli", "users", "create"]
    command += ["--email", email, "--password", PASSWORD, "--name", "T", "--plan", plan]
    subprocess.run([*command, "--state-dir", str(state)], cwd=ROOT, check=True, timeout=60)


def login(base: str, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def away_from_a_minute_boundary() -> None:
    # A burst straddling a minute boundary would rightly get a second minute's budget.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


async def burst(base: str, headers: dict[str, str], n: int = BURST) -> Counter:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        responses = await asyncio.gather(
            *(client.get("/api/v1/auth/me", headers=headers) for _ in range(n))
        )
    for response in responses:
        assert "RateLimit-Remaining" in response.headers
    return Counter(response.status_code for response in responses)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("limits-host") / "state"
    state.mkdir()
    for plan in ("free", "creator", "enterprise"):
        create_user(state, f"{plan}@example.com", plan)
    with dev_server(state, LIMITS) as base:
        yield base


def test_minute_window_is_exact_under_concurrency(server):
    headers = login(server, "free@example.com")
    away_from_a_minute_boundary()
    assert asyncio.run(burst(server, headers)) == {200: 5, 429: BURST - 5}


def test_day_window_is_exact_under_concurrency(server):
    headers = login(server, "creator@example.com")
    away_from_a_minute_boundary()
    assert asyncio.run(burst(server, headers)) == {200: 7, 429: BURST - 7}
    refused = httpx.get(f"{server}/api/v1/auth/me", headers=headers)
    assert refused.json()["error"]["details"]["window"] == "day"


def test_enterprise_has_no_daily_cap_over_http(server):
    headers = login(server, "enterprise@example.com")
    away_from_a_minute_boundary()
    assert asyncio.run(burst(server, headers)) == {200: BURST}
