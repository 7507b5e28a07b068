"""The executor service over loopback HTTP: authentication, capacity, limits, the CLI."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from devcapsules.executor import warm
from devcapsules.executor_service.app import ServiceConfig
from devcapsules.executor_service.server import make_asgi
from devcapsules.local.cli import main
from devcapsules.logs import Logger
from tests.conftest import LogCapture
from tests.execution.servers import SERVICE_KEY, serve_in_thread
from tests.execution.support import HELLO

AUTH = {"Authorization": f"Bearer {SERVICE_KEY}"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SERVICE_KEY}, {"Authorization": ""}],
)
def test_every_endpoint_needs_the_key(executor_service, headers):
    for method, path in [
        ("POST", "/api/v1/execute"),
        ("POST", "/api/v1/execute/tests"),
        ("GET", "/api/v1/execute/languages"),
    ]:
        response = httpx.request(method, executor_service + path, json=HELLO, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert "WWW-Authenticate" in response.headers


def test_health_is_open_and_runs_need_the_key(executor_service):
    assert httpx.get(executor_service + "/health").status_code == 200
    response = httpx.post(executor_service + "/api/v1/execute", json=HELLO, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["stdout"] == "Hello World\n"


def test_health_says_how_warm_the_pool_is(executor_service):
    # What a deploy's readiness probe (and the bench's warm-up) waits for: each
    # language's size, its idle sandboxes and how many of them have finished starting.
    assert httpx.get(executor_service + "/health").json()["warm"] == {}  # no pool
    filled = warm.configure({"python": 1})
    try:
        filled.fill_and_wait()
        state = httpx.get(executor_service + "/health").json()["warm"]
        assert state == {"python": {"size": 1, "idle": 1, "ready": 1}}
        filled.refill_soon = lambda: None  # the run's sandbox is not replaced
        response = httpx.post(executor_service + "/api/v1/execute", json=HELLO, headers=AUTH)
        assert response.json()["stdout"] == "Hello World\n"
        state = httpx.get(executor_service + "/health").json()["warm"]
        assert state == {"python": {"size": 1, "idle": 0, "ready": 0}}
    finally:
        warm.configure({})


def test_service_caps_limits_at_its_own_maximums(executor_service):
    body = {**HELLO, "time_limit": 600, "memory_limit": 60000}
    response = httpx.post(executor_service + "/api/v1/execute", json=body, headers=AUTH)
    assert response.json()["limits"] == {"timeLimit": 20.0, "memoryLimit": 1024}


def test_service_does_not_serve_capsules(executor_service):
    body = {"capsuleId": "cap_x", "userCode": "x"}
    response = httpx.post(executor_service + "/api/v1/execute/tests", json=body, headers=AUTH)
    assert response.status_code == 422


def test_service_logs_json_lines(executor_service, service_logs):
    httpx.post(executor_service + "/api/v1/execute", json=HELLO, headers=AUTH)
    line = service_logs.lines[-1]
    assert line["action"] == "request" and line["status"] == 200 and "requestId" in line


def test_beyond_concurrency_and_queue_the_service_answers_503_retry_after():
    config = ServiceConfig(api_key=SERVICE_KEY, concurrency=1, queue_depth=0, retry_after_s=2)
    sleeper = {"source_code": "import time; time.sleep(1.5)", "language": "python"}
    with serve_in_thread(make_asgi(config, Logger(sink=LogCapture()))) as url:
        first: dict = {}
        worker = threading.Thread(
            target=lambda: first.update(
                response=httpx.post(f"{url}/api/v1/execute", json=sleeper, headers=AUTH, timeout=30)
            )
        )
        worker.start()
        _wait_until_running(url)
        refused = httpx.post(f"{url}/api/v1/execute", json=HELLO, headers=AUTH)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "2"
        assert refused.json()["error"]["code"] == "executor_busy"
        worker.join(timeout=30)
        assert first["response"].status_code == 200
        assert httpx.post(f"{url}/api/v1/execute", json=HELLO, headers=AUTH).status_code == 200


def test_a_queued_run_waits_for_its_slot():
    config = ServiceConfig(api_key=SERVICE_KEY, concurrency=1, queue_depth=1)
    sleeper = {"source_code": "import time; time.sleep(1)", "language": "python"}
    with serve_in_thread(make_asgi(config, Logger(sink=LogCapture()))) as url:
        results: list = []

        def post(body):
            results.append(httpx.post(f"{url}/api/v1/execute", json=body, headers=AUTH, timeout=30))

        threads = [threading.Thread(target=post, args=(sleeper,)) for _ in range(2)]
        threads[0].start()
        _wait_until_running(url)
        threads[1].start()
        for thread in threads:
            thread.join(timeout=30)
        assert [r.status_code for r in results] == [200, 200]


def _wait_until_running(url: str) -> None:
    deadline = time.monotonic() + 10
    while httpx.get(f"{url}/health").json()["running"] < 1:
        assert time.monotonic() < deadline, "the first run never started"
        time.sleep(0.02)


def test_the_cli_refuses_to_serve_without_a_key(monkeypatch, capsys):
    monkeypatch.delenv("AWS_EXECUTOR_API_KEY", raising=False)
    assert main(["executor", "serve"]) == 2
    assert "AWS_EXECUTOR_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("AWS_EXECUTOR_API_KEY", "short")
    assert main(["executor", "serve"]) == 2
    assert "at least 32" in capsys.readouterr().err


def test_the_cli_validates_capacity(monkeypatch, capsys):
    monkeypatch.setenv("AWS_EXECUTOR_API_KEY", SERVICE_KEY)
    assert main(["executor", "serve", "--concurrency", "0"]) == 2
