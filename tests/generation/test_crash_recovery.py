"""kill -9 of the local host with generation jobs in flight, then a restart: every job
completes promptly (the restart takes back its dead predecessor's leases at once, it
does not wait for them to expire), once each."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.generation.conftest import good_capsule
from tests.generation.fake_model import FakeModel
from tests.support.server import dev_process, read_log_lines

# The local broker and its state dir; on Miniflare, Miniflare runs the consumer.
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

JOBS = 10
# Far below the 60 s lease a restart would otherwise wait out (300 s before this fix),
# far above the few seconds the jobs need: a bound, not a measurement.
RECOVERY_DEADLINE_S = 30
LIMITS = {
    "PLAN_FREE_REQUESTS_PER_MINUTE": "10000",
    "PLAN_FREE_REQUESTS_PER_DAY": "100000",
    "PLAN_FREE_GENERATIONS_PER_DAY": "100",
    "GENERATION_MODEL_TIMEOUT_SECONDS": "120",
}


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.25)


def statuses(base: str, headers: dict[str, str], job_ids: list[str]) -> list[dict]:
    return [
        httpx.get(f"{base}/api/v1/generate/{j}/status", headers=headers).json() for j in job_ids
    ]


def test_jobs_in_flight_at_a_kill_complete_soon_after_the_restart(tmp_path):
    state = tmp_path / "state"
    with FakeModel(default=good_capsule(), latency=600.0) as model:  # hangs: jobs stay in flight
        env = model.vars(**LIMITS)
        with dev_process(state, env) as (base, process):
            account = httpx.post(
                f"{base}/api/v1/auth/register",
                json={"email": "crash@example.com", "password": "correct horse", "name": "C"},
            ).json()
            headers = {"Authorization": f"Bearer {account['accessToken']}"}
            job_ids = [
                httpx.post(
                    f"{base}/api/v1/generate",
                    json={"prompt": f"Reverse a string, variant {i}", "language": "python"},
                    headers=headers,
                ).json()["jobId"]
                for i in range(JOBS)
            ]
            wait_for(lambda: len(model.requests) == JOBS, 60, "every job to reach the model")
            assert {job["status"] for job in statuses(base, headers, job_ids)} == {"processing"}
            process.kill()  # SIGKILL: no clean-up of any kind
            process.wait()
        model.latency = 0.2
        with dev_process(state, env) as (base, _):
            restarted = time.monotonic()

            def all_done() -> bool:
                return all(j["status"] == "completed" for j in statuses(base, headers, job_ids))

            try:
                wait_for(all_done, RECOVERY_DEADLINE_S, "the jobs to complete after the restart")
            except AssertionError:
                print("DEBUG", statuses(base, headers, job_ids))
                raise
            recovered_in = time.monotonic() - restarted
            jobs = statuses(base, headers, job_ids)
    print(f"all {JOBS} jobs completed {recovered_in:.1f} s after the restart")
    assert all(job["attempts"] == 2 for job in jobs)  # one claim before the kill, one after
    assert len({job["capsuleId"] for job in jobs}) == JOBS  # one capsule each, no duplicate
    lines = [json.loads(line) for line in read_log_lines(state) if line.startswith("{")]
    taken = [line for line in lines if line.get("action") == "generation_jobs_taken_over"]
    assert taken and taken[0]["jobs"] == JOBS
