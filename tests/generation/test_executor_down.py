"""Generation while the executor that verifies capsules cannot be reached: retried,
then dead-lettered with the executor's own error, said once."""

from __future__ import annotations

import pytest

from tests.generation.conftest import DLQ, status, submit
from tests.support.server import refused_url


@pytest.fixture
def test_vars(test_vars):
    unreachable = refused_url()
    return {**test_vars, "EXECUTOR_BACKEND_DEFAULT": "remote", "EXECUTOR_URL": unreachable}


def test_an_unreachable_executor_is_retried_then_dead_lettered(client, creator, queue, model):
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "queued"
    assert job["error"] == {
        "code": "executor_unavailable",
        "message": "The code executor cannot be reached",
    }
    for _ in range(3):  # max_retries = 3: the 4th failure goes to the DLQ
        queue.advance(10_000)
        queue.deliver()
    assert [batch.queue for batch in queue.batches][-1] == DLQ
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "dead_lettered"
    message = job["error"]["message"]
    assert message.endswith("last error: executor_unavailable: The code executor cannot be reached")
    assert message.count("executor_unavailable") == 1
