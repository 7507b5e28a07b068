"""The remote backend against the real executor service over loopback HTTP."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LogCapture
from tests.execution.servers import SERVICE_KEY
from tests.execution.support import ADD, HELLO, client_with, executions
from tests.support.server import refused_url


@pytest.fixture
def remote(env, loop, executor_service):
    return client_with(
        env,
        loop,
        EXECUTOR_BACKEND_DEFAULT="remote",
        EXECUTOR_URL=executor_service,
        AWS_EXECUTOR_API_KEY=SERVICE_KEY,
    )


def test_seed_hello_world_runs_on_the_remote_executor(remote, service_logs):
    response = remote.post("/api/v1/execute", json=HELLO)
    assert response.status == 200, response.body
    body = response.json()
    assert body["stdout"] == "Hello World\n" and body["status"] == "ok"
    assert body["backend"] == "remote"
    assert body["limits"] == {"timeLimit": 5.0, "memoryLimit": 256}  # the plan's, not the service's
    requests = [line for line in service_logs.lines if line["action"] == "request"]
    assert requests[-1]["path"] == "/api/v1/execute" and requests[-1]["status"] == 200


def test_seed_add_tests_run_on_the_remote_executor(remote):
    response = remote.post("/api/v1/execute/tests", json=ADD)
    assert response.status == 200, response.body
    assert response.json()["summary"] == {"passed": 2, "total": 2, "status": "passed"}
    assert response.json()["backend"] == "remote"
    assert executions(remote)[0]["tests_passed"] == 2


def test_remote_client_errors_pass_through(remote):
    response = remote.post("/api/v1/execute", json={**HELLO, "language": "cobol"})
    assert response.status == 422
    assert "python" in response.json()["error"]["details"]["supported"]
    response = remote.post("/api/v1/execute/tests", json={**ADD, "testCases": [{"input": [1]}]})
    assert response.status == 422
    assert response.json()["error"]["code"] == "invalid_test_cases"


def test_remote_languages(remote):
    languages = remote.get("/api/v1/execute/languages").json()["languages"]
    python = next(item for item in languages if item["language"] == "python")
    assert python["backend"] == "remote" and "py" in python["aliases"]


def test_a_wrong_service_key_is_a_502_that_leaks_nothing(env, loop, executor_service):
    client = client_with(
        env,
        loop,
        EXECUTOR_BACKEND_DEFAULT="remote",
        EXECUTOR_URL=executor_service,
        AWS_EXECUTOR_API_KEY="wrong-" + "x" * 40,
    )
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 502
    assert response.json()["error"]["code"] == "executor_error"
    assert "AWS_EXECUTOR_API_KEY" not in json.dumps(response.json())


def unreachable_remote(env, loop, logs=None):
    """A client whose executor is a remote service nobody listens for."""
    return client_with(
        env,
        loop,
        logs,
        EXECUTOR_BACKEND_DEFAULT="remote",
        EXECUTOR_URL=refused_url(),
        AWS_EXECUTOR_API_KEY=SERVICE_KEY,
    )


def test_an_unreachable_service_is_503(env, loop):
    client = unreachable_remote(env, loop)
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 503
    assert response.json()["error"]["code"] == "executor_unavailable"
    assert executions(client) == []  # nothing ran, nothing recorded


def test_the_backends_log_lines_carry_the_request_id(env, loop):
    """The executor is built once per app and logs with the app's logger: its lines are
    still correlated with the request that called it (`logs.request_scope`)."""
    logs = LogCapture()
    response = unreachable_remote(env, loop, logs).post("/api/v1/execute", json=HELLO)
    assert response.status == 503
    request_id = response.headers["x-request-id"]
    backend_lines = [line for line in logs.lines if line["action"].startswith("remote_")]
    assert backend_lines, logs.actions()
    assert {line.get("requestId") for line in backend_lines} == {request_id}


def test_the_remote_executor_directly(loop, executor_service):
    from devcapsules.services.execution.remote import RemoteExecutor
    from devcapsules.services.plans import DEFAULT_PLANS

    executor = RemoteExecutor(executor_service, SERVICE_KEY)
    limits = DEFAULT_PLANS["free"].execution.clamp(1, None)
    result = loop.run_until_complete(
        executor.execute("import time; time.sleep(5)", "python", stdin="", limits=limits)
    )
    assert result["status"] == "time_limit_exceeded"
