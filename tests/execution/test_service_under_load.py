"""`devcapsules executor serve` (a real subprocess) past its capacity: runs beyond
`concurrency + queue depth` are refused at once with 503 + Retry-After, a running run
ends at its time limit, and a queued one waits at most its own (then the same 503), so
nothing in the service outlives 2 x its time limit. No timing is asserted: the
refusals are seen while the admitted runs are still running, and every answer must come
within a generous bound (a hang fails the test instead of blocking it)."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.execution.servers import SERVICE_KEY
from tests.support.server import executor_service_process

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {SERVICE_KEY}"}
TIME_LIMIT_S = 2
SPINNER = {"source_code": "while True: pass", "language": "python", "time_limit": TIME_LIMIT_S}
# Far above what two runs at their time limit take: only a hang reaches it.
ANSWER_BOUND_S = 60


def health(base: str) -> dict:
    return httpx.get(f"{base}/health", timeout=ANSWER_BOUND_S).json()


def wait_for(base: str, running: int, queued: int) -> None:
    deadline = time.monotonic() + ANSWER_BOUND_S
    while (h := health(base))["running"] < running or h["queued"] < queued:
        assert time.monotonic() < deadline, f"never reached {running} running, {queued} queued"
        time.sleep(0.02)  # polling the state, not racing a timer under test


def post(base: str, body: dict) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/execute", json=body, headers=AUTH, timeout=ANSWER_BOUND_S)


def test_overload_is_refused_at_once_and_no_run_outlives_its_limit(tmp_path):
    options = ("--concurrency", "1", "--queue-depth", "1")
    with (
        executor_service_process(tmp_path, SERVICE_KEY, *options) as (base, _),
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        admitted = [pool.submit(post, base, SPINNER)]
        wait_for(base, running=1, queued=0)
        # Queued with a longer limit than the first's (it waits at most its own limit).
        queued = {"source_code": "print('queued')", "language": "python", "time_limit": 10}
        admitted.append(pool.submit(post, base, queued))
        wait_for(base, running=1, queued=1)

        refused = [post(base, SPINNER) for _ in range(3)]
        # Answered while the first run still spins: nothing waited for a slot.
        assert not admitted[0].done() and health(base)["running"] == 1

        for response in refused:
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            error = response.json()["error"]
            assert error["code"] == "executor_busy"
            assert error["details"] == {"concurrency": 1, "queueDepth": 1}
        spinner, waited = (future.result(timeout=ANSWER_BOUND_S) for future in admitted)
        assert spinner.status_code == 200, spinner.text
        assert spinner.json()["status"] == "time_limit_exceeded"  # stopped at its limit
        assert waited.status_code == 200, waited.text
        assert waited.json()["stdout"] == "queued\n"  # it got the slot once it was free
        idle = {k: v for k, v in health(base).items() if k != "warm"}  # the pool refills
        assert idle == {"success": True, "status": "ok", "running": 0, "queued": 0}
        assert post(base, {**SPINNER, "source_code": "print(1)"}).json()["stdout"] == "1\n"


def test_a_queued_run_waits_no_longer_than_its_time_limit(tmp_path):
    """A run queued behind one that spins for 8 s gives up after its own 1 s limit with
    503 + Retry-After, while the first is still running (it cannot have got a slot)."""
    options = ("--concurrency", "1", "--queue-depth", "1")
    with (
        executor_service_process(tmp_path, SERVICE_KEY, *options) as (base, _),
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        first = pool.submit(post, base, {**SPINNER, "time_limit": 8})
        wait_for(base, running=1, queued=0)
        queued = post(base, {**SPINNER, "source_code": "print(1)", "time_limit": 1})
        assert not first.done() and health(base)["running"] == 1
        assert queued.status_code == 503 and queued.headers["Retry-After"] == "1"
        assert queued.json()["error"]["code"] == "executor_busy"
        assert first.result(timeout=ANSWER_BOUND_S).json()["status"] == "time_limit_exceeded"
