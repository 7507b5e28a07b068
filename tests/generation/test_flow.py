"""POST -> queue -> consumer -> executor -> capsule -> status, on the local host."""

from __future__ import annotations

import re

from tests.generation.conftest import status, submit


def capsule_row(client, capsule_id):
    return client.run(
        client.env.db.prepare("SELECT * FROM capsules WHERE id = ?").bind(capsule_id).first()
    )


def test_catalog_provider_completes_a_job(client, creator, queue, logs):
    response = client.post(
        "/api/v1/generate",
        json={"prompt": "Create a function to reverse a string", "language": "python"},
        headers=creator.headers,
    )
    assert response.status == 202
    body = response.json()
    assert re.fullmatch(r"gen_\d{13}_[0-9a-f]{8}", body["jobId"])
    assert body["statusUrl"] == f"/api/v1/generate/{body['jobId']}/status"
    assert status(client, creator, body["jobId"])["status"] == "queued"

    assert queue.deliver() == 1
    job = status(client, creator, body["jobId"])
    assert job["status"] == "completed" and job["stage"] == "done" and job["progress"] == 100
    assert job["provider"] == "catalog" and job["attempts"] == 1
    assert 0.7 <= job["qualityScore"] <= 1 and job["generationTime"] >= 0
    capsule = capsule_row(client, job["capsuleId"])
    assert capsule["owner_id"] == creator.id and capsule["status"] == "draft"
    assert capsule["source"] == "generated" and capsule["generation_job_id"] == body["jobId"]
    assert capsule["quality_score"] == job["qualityScore"]
    assert capsule["function_name"] == "reverse_string"
    done = [line for line in logs.lines if line["action"] == "generation_complete"]
    assert done and done[0]["jobId"] == body["jobId"] and done[0]["level"] == "info"
    assert done[0]["qualityScore"] == job["qualityScore"]
    assert {"generationTime", "timestamp"} <= set(done[0])
    assert queue.pending() == 0


def test_catalog_in_javascript(client, creator, queue):
    job_id = submit(client, creator, "Check if a string is a palindrome", language="javascript")
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "completed", job
    assert capsule_row(client, job["capsuleId"])["function_name"] == "isPalindrome"


def test_catalog_without_a_match_fails_permanently(client, creator, queue, logs):
    job_id = submit(client, creator, "Build a distributed key-value store with Raft")
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "catalog_no_match"
    assert "Reverse a String" in job["error"]["message"]
    assert queue.pending() == 0  # acked, not retried
    assert "generation_failed" in logs.actions()


def test_azure_model_good_capsule(client, creator, queue, model):
    job_id = submit(client, creator)
    queue.deliver()
    job = status(client, creator, job_id)
    assert job["status"] == "completed" and job["provider"] == "azure_openai"
    request = model.requests[0]
    assert request["query"].startswith("api-version=")
    schema = request["body"]["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    assert "testCases" in schema["json_schema"]["schema"]["properties"]
    assert "Reverse a string" in request["body"]["messages"][1]["content"]


def test_redelivery_of_a_completed_job_makes_no_second_capsule(client, creator, queue):
    job_id = submit(client, creator)
    # The same message twice in one batch: the second copy finds the job leased by the
    # first and is retried after the lease instead of doing the work again.
    client.run(client.env.generation_queue.send({"jobId": job_id, "v": 1}))
    queue.deliver()
    assert queue.pending() == 1 and min(queue.visible_in()) >= 59  # the 60 s lease
    queue.advance(400)
    queue.deliver()  # now the job is completed: acked without a second capsule
    count = client.run(
        client.env.db.prepare("SELECT count(*) AS n FROM capsules WHERE generation_job_id = ?")
        .bind(job_id)
        .first("n")
    )
    assert count == 1
    assert status(client, creator, job_id)["attempts"] == 1
    assert queue.pending() == 0


def test_list_jobs_shows_only_the_callers(client, creator, queue):
    from tests.support.auth import register

    other = register(client, plan="creator")
    first = submit(client, creator)
    second = submit(client, creator, "Compute the factorial of n")
    submit(client, other)
    response = client.get("/api/v1/generate?limit=1", headers=creator.headers)
    body = response.json()
    assert response.status == 200 and [j["jobId"] for j in body["jobs"]] == [second]
    page2 = client.get(
        f"/api/v1/generate?limit=1&cursor={body['nextCursor']}", headers=creator.headers
    )
    assert [j["jobId"] for j in page2.json()["jobs"]] == [first]
    assert page2.json()["nextCursor"] is None


def test_a_generated_capsule_is_validated_once_on_its_way_to_the_store(
    client, creator, queue, monkeypatch
):
    from devcapsules.schemas.capsules import CapsuleContent

    validations = []
    real = CapsuleContent.model_validate.__func__

    def counted(cls, *args, **kwargs):
        validations.append(cls)
        return real(cls, *args, **kwargs)

    job_id = submit(client, creator)
    monkeypatch.setattr(CapsuleContent, "model_validate", classmethod(counted))
    assert queue.deliver() == 1
    job = status(client, creator, job_id)
    assert job["status"] == "completed" and job["attempts"] == 1
    # The catalog's capsule is valid on the first model call: one candidate, one check.
    assert len(validations) == 1
    assert capsule_row(client, job["capsuleId"])["title"]
