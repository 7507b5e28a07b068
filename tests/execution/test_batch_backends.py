"""`run_tests_batch` on every backend: the local sandbox (one slot, one sandbox), the
real executor service over loopback HTTP (`/api/v1/execute/tests/batch`), and Piston
(a run each), with the results a run of its own gets."""

from __future__ import annotations

import threading

import httpx
import pytest

from devcapsules.errors import Unavailable
from devcapsules.executor_service.app import ServiceConfig
from devcapsules.executor_service.server import make_asgi
from devcapsules.logs import Logger
from devcapsules.schemas.execution import BatchRun
from devcapsules.services.execution.local import Capacity, LocalExecutor
from devcapsules.services.execution.piston import PistonExecutor
from devcapsules.services.execution.remote import RemoteExecutor
from devcapsules.services.plans import DEFAULT_PLANS
from tests.conftest import LogCapture
from tests.execution.servers import SERVICE_KEY, serve_in_thread
from tests.execution.test_service import AUTH, _wait_until_running

pytestmark = pytest.mark.slow

CASES = [{"input": [2], "expected": 4}, {"input": [0], "expected": 0, "hidden": True}]
CODES = [
    "def double(x):\n    return 2 * x\n",
    "import os\ndef double(x):\n    os._exit(9)\n",  # crashes mid-run
    "def double(x):\n    while True:\n        pass\n",  # times out
    "open('/tmp/mine', 'w').write('x')\ndef double(x):\n    return x + x\n",
    "import os\ndef double(x):\n    return -1 if os.path.exists('/tmp/mine') else x * 2\n",
]
LIMITS = DEFAULT_PLANS["free"].execution.clamp(1, None)


def runs(codes=CODES, cases=CASES) -> list[BatchRun]:
    return [BatchRun(userCode=code, testCases=cases, functionName="double") for code in codes]


def verdicts(results) -> list[tuple]:
    return [
        (r.summary.status, r.summary.passed, [(t.passed, t.error) for t in r.results])
        for r in results
    ]


def alone(executor, codes=CODES) -> list:
    return [executor.run_tests(code, CASES, "python", "double", limits=LIMITS) for code in codes]


def test_the_local_batch_takes_one_slot_and_gives_each_run_its_own_verdict(loop):
    # One slot and no queue: a run each would be refused (503) for all but the first.
    executor = LocalExecutor(Capacity(1, 0))
    batch = loop.run_until_complete(executor.run_tests_batch(runs(), "python", limits=LIMITS))
    one_by_one = [loop.run_until_complete(call) for call in alone(executor)]
    assert verdicts(batch) == verdicts(one_by_one)
    assert [r.summary.status for r in batch] == [
        "passed",
        "runtime_error",
        "failed",
        "passed",
        "passed",
    ]
    assert batch[2].results[0].error == "time limit exceeded"


def test_runs_that_cannot_share_a_sandbox_run_one_by_one(loop):
    io = [{"stdin": "2", "expectedOutput": "4"}]
    code = "print(int(input()) * 2)"
    items = [BatchRun(userCode=code, testCases=io)] * 2
    executor = LocalExecutor(Capacity(1, 0))
    with pytest.raises(Unavailable):  # a sandbox each: the second finds no slot
        loop.run_until_complete(executor.run_tests_batch(items, "python", limits=LIMITS))
    executor = LocalExecutor(Capacity(2, 0))
    results = loop.run_until_complete(executor.run_tests_batch(items, "python", limits=LIMITS))
    assert [r.summary.status for r in results] == ["passed", "passed"]


def test_the_remote_batch_matches_the_local_one(loop, executor_service, service_logs):
    remote = RemoteExecutor(executor_service, SERVICE_KEY)
    over_http = loop.run_until_complete(remote.run_tests_batch(runs(), "python", limits=LIMITS))
    local = loop.run_until_complete(
        LocalExecutor(Capacity(1, 0)).run_tests_batch(runs(), "python", limits=LIMITS)
    )
    assert verdicts(over_http) == verdicts(local)
    assert over_http[1].results[1].hidden is True and over_http[1].results[1].expected is None
    requests = [line for line in service_logs.lines if line["action"] == "request"]
    assert [line["path"] for line in requests] == ["/api/v1/execute/tests/batch"]


def test_the_batch_endpoint_caps_limits_and_refuses_bad_input_in_the_error_shape(
    executor_service,
):
    url = executor_service + "/api/v1/execute/tests/batch"
    body = {
        "language": "python",
        "runs": [{"userCode": CODES[0], "testCases": CASES, "functionName": "double"}],
        "time_limit": 600,
    }
    answer = httpx.post(url, json=body, headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["limits"] == {"timeLimit": 20.0, "memoryLimit": 256}
    assert answer.json()["results"][0]["summary"]["status"] == "passed"
    for bad in ({**body, "runs": []}, {**body, "runs": [{"userCode": "x", "testCases": []}]}):
        refused = httpx.post(url, json=bad, headers=AUTH)
        assert refused.status_code == 422
        error = refused.json()
        assert set(error) == {"success", "error", "requestId"} and error["success"] is False
        assert set(error["error"]) == {"code", "message", "details"}
    unknown = httpx.post(url, json={**body, "language": "cobol"}, headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unsupported_language"
    assert httpx.post(url, json=body).status_code == 401


def test_beyond_capacity_the_batch_endpoint_answers_503_retry_after():
    config = ServiceConfig(api_key=SERVICE_KEY, concurrency=1, queue_depth=0, retry_after_s=3)
    sleeper = {"source_code": "import time; time.sleep(1.5)", "language": "python"}
    body = {"language": "python", "runs": [{"userCode": CODES[0], "testCases": CASES}] * 2}
    with serve_in_thread(make_asgi(config, Logger(sink=LogCapture()))) as url:
        first: dict = {}

        def occupy() -> None:
            first["answer"] = httpx.post(
                f"{url}/api/v1/execute", json=sleeper, headers=AUTH, timeout=30
            )

        worker = threading.Thread(target=occupy)
        worker.start()
        _wait_until_running(url)
        refused = httpx.post(f"{url}/api/v1/execute/tests/batch", json=body, headers=AUTH)
        worker.join(timeout=30)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"
        assert refused.json()["error"]["code"] == "executor_busy"
        assert first["answer"].status_code == 200
        again = httpx.post(f"{url}/api/v1/execute/tests/batch", json=body, headers=AUTH)
        assert again.status_code == 200
        assert [r["summary"]["status"] for r in again.json()["results"]] == ["passed"] * 2


def test_piston_runs_a_batch_one_run_at_a_time(loop, piston_url, fake_piston):
    piston = PistonExecutor(piston_url)
    io = [{"stdin": "2", "expectedOutput": "4"}, {"stdin": "5", "expectedOutput": "10"}]
    items = [
        BatchRun(userCode="fn main() { /* DOUBLE */ }", testCases=io),
        BatchRun(userCode='fn main() { println!("no"); }', testCases=io),
    ]
    results = loop.run_until_complete(piston.run_tests_batch(items, "rust", limits=LIMITS))
    assert [r.summary.status for r in results] == ["passed", "failed"]
    assert len(fake_piston.requests) == 4  # a request per case of each run
