"""PLAN_* overrides of execution caps reach every place a run is limited: `/execute`,
`/execute/tests` (the Worker side and the sandbox behind it) and the executor service.
And a request's limits are clamped, and its sizes checked, exactly once."""

from __future__ import annotations

import sys
from collections import Counter

import httpx
import pytest

from devcapsules.executor_service.app import ServiceConfig
from devcapsules.executor_service.server import make_asgi
from devcapsules.local.cli import main
from devcapsules.logs import Logger
from devcapsules.services import plans
from devcapsules.services.plans import ExecutionCaps, RunLimits
from tests.conftest import LogCapture
from tests.execution.servers import SERVICE_KEY, serve_in_thread
from tests.execution.support import ADD, HELLO, client_with, make_capsule
from tests.support.auth import create_api_key, key_headers, register

AUTH = {"Authorization": f"Bearer {SERVICE_KEY}"}


def test_execute_honours_overridden_time_memory_and_source_caps(env, loop):
    client = client_with(
        env,
        loop,
        PLAN_ANONYMOUS_MAX_TIME_LIMIT_S="1.5",
        PLAN_ANONYMOUS_MAX_MEMORY_LIMIT_MB="64",
        PLAN_ANONYMOUS_MAX_SOURCE_BYTES="100",
    )
    response = client.post("/api/v1/execute", json={**HELLO, "memory_limit": 512})
    assert response.status == 200, response.body
    assert response.json()["limits"] == {"timeLimit": 1.5, "memoryLimit": 64}
    big = client.post("/api/v1/execute", json={**HELLO, "source_code": "#" * 101})
    assert big.status == 413
    assert big.json()["error"]["details"] == {
        "field": "source_code",
        "limitBytes": 100,
        "sizeBytes": 101,
    }


def test_an_overridden_output_cap_holds_in_the_sandbox(env, loop):
    # The cap reaches the sandbox library itself (not only the Worker's own checks).
    client = client_with(env, loop, PLAN_ANONYMOUS_MAX_OUTPUT_BYTES="1000")
    body = {**HELLO, "source_code": "print('x' * 5000)"}
    assert client.post("/api/v1/execute", json=body).json()["status"] == "output_limit_exceeded"
    small = {**HELLO, "source_code": "print('x' * 500)"}
    assert client.post("/api/v1/execute", json=small).json()["status"] == "ok"


def test_execute_tests_honours_overridden_test_count_and_time_caps(env, loop):
    client = client_with(env, loop, PLAN_FREE_MAX_TEST_CASES="1", PLAN_FREE_MAX_TIME_LIMIT_S="1")
    account = register(client)
    response = client.post("/api/v1/execute/tests", json=ADD, headers=account.headers)
    assert response.status == 422
    assert response.json()["error"]["details"] == {"limit": 1, "count": 2}
    one = {**ADD, "testCases": ADD["testCases"][:1], "time_limit": 9}
    response = client.post("/api/v1/execute/tests", json=one, headers=account.headers)
    assert response.status == 200, response.body
    assert response.json()["limits"]["timeLimit"] == 1.0


def test_the_executor_service_caps_at_the_overridden_ceiling():
    table = plans.from_vars(
        {"PLAN_TEAM_MAX_TIME_LIMIT_S": "30", "PLAN_TEAM_MAX_SOURCE_BYTES": "10"}
    )
    # Lowering one plan's source cap leaves the ceiling at the largest plan's.
    assert table.ceiling().max_source_bytes == 256 * 1024
    config = ServiceConfig(api_key=SERVICE_KEY, concurrency=1, plans=table)
    with serve_in_thread(make_asgi(config, Logger(sink=LogCapture()))) as url:
        body = {**HELLO, "time_limit": 25}
        response = httpx.post(url + "/api/v1/execute", json=body, headers=AUTH)
        assert response.json()["limits"]["timeLimit"] == 25.0  # 20 s without the override
        tests = {**ADD, "time_limit": 600}
        response = httpx.post(url + "/api/v1/execute/tests", json=tests, headers=AUTH)
        assert response.json()["limits"]["timeLimit"] == 30.0


def test_the_executor_service_cli_refuses_a_bad_plan_var(monkeypatch, capsys):
    monkeypatch.setenv("AWS_EXECUTOR_API_KEY", SERVICE_KEY)
    monkeypatch.setenv("PLAN_TEAM_MAX_TIME_LIMIT_S", "soon")
    # --concurrency 0 as well: should the var ever pass, the CLI still exits, never serves.
    assert main(["executor", "serve", "--concurrency", "0"]) == 2
    assert "PLAN_TEAM_MAX_TIME_LIMIT_S must be a number" in capsys.readouterr().err


# ------------------------------------------------------------ once per request


class CallCount:
    """Counts calls of the given functions (by code object: nothing is patched)."""

    def __init__(self, **functions) -> None:
        self.codes = {function.__code__: name for name, function in functions.items()}
        self.calls: Counter[str] = Counter()

    def profile(self, frame, event, _arg):
        if event == "call" and frame.f_code in self.codes:
            self.calls[self.codes[frame.f_code]] += 1

    def __enter__(self) -> CallCount:
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *_exc: object) -> None:
        sys.setprofile(None)


ONCE = {
    "clamp": ExecutionCaps.clamp,
    "size rule": ExecutionCaps.oversized,
    "wall budget": ExecutionCaps.suite_wall_s,
    "test count": RunLimits.check_test_count,
}


@pytest.mark.parametrize("form", ["inline", "capsule suite", "program"])
def test_a_request_is_clamped_and_size_checked_exactly_once(client, form):
    account = register(client)
    headers = key_headers(create_api_key(client, account, ["execute"]))
    path, body = {
        "inline": ("/api/v1/execute/tests", ADD),
        "capsule suite": (
            "/api/v1/execute/tests",
            {"capsuleId": make_capsule(client, account.id), "userCode": ADD["userCode"]},
        ),
        "program": ("/api/v1/execute", HELLO),
    }[form]
    client.post(path, json=body, headers=headers)  # warm: imports, toolchain discovery
    with CallCount(**{name.replace(" ", "_"): f for name, f in ONCE.items()}) as counted:
        response = client.post(path, json=body, headers=headers)
    assert response.status == 200, response.body
    expected = {"clamp": 1, "size_rule": 1}
    if form != "program":  # a suite: its count is checked once, its wall budget set once
        expected |= {"test_count": 1, "wall_budget": 1}
    assert dict(counted.calls) == expected
