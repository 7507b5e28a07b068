"""The consumer against a fake Azure OpenAI server: every way a model call can go."""

from __future__ import annotations

import pytest

from tests.generation.conftest import DLQ, failing_capsule, good_capsule, status, submit
from tests.generation.fake_model import azure_error


def used_today(client, account) -> int:
    return client.run(
        client.env.db.prepare(
            "SELECT coalesce(sum(count), 0) AS n FROM usage_counters"
            " WHERE subject = ? AND window = 'generation_day'"
        )
        .bind(account.id)
        .first("n")
    )


def test_429_honours_retry_after_then_completes(client, creator, queue, model):
    model.push(("status", 429, azure_error("429", "Rate limit is exceeded"), {"Retry-After": "37"}))
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "queued" and job["error"]["code"] == "provider_rate_limited"
    assert queue.pending() == 1 and min(queue.visible_in()) >= 37
    queue.advance(38)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "completed" and job["attempts"] == 2 and job["error"] is None


@pytest.mark.parametrize(
    "behaviour, code",
    [
        (("status", 500, azure_error("InternalServerError", "boom"), {}), "model_unavailable"),
        (("status", 503, {"error": {"message": "overloaded"}}, {}), "model_unavailable"),
        (("sleep", 2.0), "model_timeout"),
    ],
)
def test_transient_errors_retry_with_growing_delay(client, creator, queue, model, behaviour, code):
    model.push(behaviour, behaviour)
    job_id = submit(client, creator)
    queue.deliver()
    assert status(client, creator, job_id)["error"]["code"] == code
    first = min(queue.visible_in())
    queue.advance(first + 1)
    queue.deliver()
    second = min(queue.visible_in())
    assert second > first >= 10  # 10 s, then 20 s
    queue.advance(second + 1)
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"


def test_malformed_json_is_retried_with_feedback(client, creator, queue, model):
    model.push(("content", "Sure! Here is your capsule: {title: oops"))
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "completed" and job["attempts"] == 1
    assert len(model.requests) == 2
    feedback = model.requests[1]["body"]["messages"][-1]["content"]
    assert "not valid JSON" in feedback


def test_output_failing_validation_every_time_fails_the_job(client, creator, queue, model, logs):
    bad = good_capsule()
    del bad["solution"]
    bad["testCases"] = bad["testCases"][:1]
    model.default = bad
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "invalid_model_output"
    assert "solution" in job["error"]["message"] and "testCases" in job["error"]["message"]
    assert len(model.requests) == 3  # GENERATION_MAX_MODEL_ATTEMPTS
    assert queue.pending() == 0
    failed = [line for line in logs.lines if line["action"] == "generation_failed"]
    assert failed[0]["jobId"] == job_id and failed[0]["level"] == "error"
    assert used_today(client, creator) == 0  # our failure: refunded


def test_failing_solution_gets_concrete_failures_then_a_fix(client, creator, queue, model):
    model.push(failing_capsule())
    job_id = submit(client, creator)
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"
    feedback = model.requests[1]["body"]["messages"][-1]["content"]
    assert 'expected "olleh" but the solution returned "hello"' in feedback
    # The previous answer is in the conversation, so the model can correct it.
    assert model.requests[1]["body"]["messages"][-2]["role"] == "assistant"


def test_solution_that_never_passes_fails_verification(client, creator, queue, model):
    model.default = failing_capsule()
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "verification_failed"
    assert "expected" in job["error"]["message"]
    assert job["capsuleId"] is None


def test_starter_that_already_passes_is_rejected(client, creator, queue, model):
    solved = good_capsule()
    solved["starterCode"] = solved["solution"]
    model.push(solved)
    job_id = submit(client, creator)
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"
    assert "already passes every test" in model.requests[1]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize(
    "behaviour",
    [
        (
            "status",
            400,
            azure_error(
                "content_filter", "The response was filtered", "ResponsibleAIPolicyViolation"
            ),
            {},
        ),
        ("finish", "content_filter"),
    ],
)
def test_content_filter_fails_without_retry(client, creator, queue, model, behaviour):
    model.push(behaviour)
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "content_filtered"
    assert queue.pending() == 0 and len(model.requests) == 1
    assert used_today(client, creator) == 1  # the prompt's fault: not refunded


def test_invalid_request_is_permanent(client, creator, queue, model):
    model.push(("status", 400, azure_error("BadRequest", "Invalid schema"), {}))
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "provider_invalid_request"
    assert queue.pending() == 0


def test_exhausted_retries_go_to_the_dlq_which_fails_and_refunds(
    client, creator, queue, model, logs
):
    model.default = ("status", 500, azure_error("InternalServerError", "down"), {})
    job_id = submit(client, creator)
    assert used_today(client, creator) == 1
    for _ in range(4):  # the first delivery and max_retries = 3 retries
        assert status(client, creator, job_id)["status"] == "queued"
        queue.deliver()  # the 4th failure moves it to the DLQ, delivered in the same pass
        queue.advance(10_000)
    assert [batch.queue for batch in queue.batches][-1] == DLQ
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "dead_lettered"
    assert "model_unavailable" in job["error"]["message"]
    assert used_today(client, creator) == 0
    assert queue.pending(DLQ) == 0
    failed = [line for line in logs.lines if line["action"] == "generation_failed"]
    assert failed[-1]["errorCode"] == "dead_lettered" and failed[-1]["quotaRefunded"] is True
    # A second copy of the dead letter changes nothing and refunds nothing twice.
    queue.store.enqueue(DLQ, [(f'{{"jobId":"{job_id}"}}', 0)])
    queue.deliver()
    assert used_today(client, creator) == 0
    # Each dead letter is recorded with what became of it; none vanishes unlogged.
    queue.store.enqueue(DLQ, [('{"jobId":"gen_nosuchjob"}', 0)])
    queue.deliver()
    letters = [line for line in logs.lines if line["action"] == "generation_dead_letter"]
    assert [(line["jobId"], line["outcome"]) for line in letters] == [
        (job_id, "failed"),
        (job_id, "already_final"),
        ("gen_nosuchjob", "unknown_job"),
    ]
