"""POST /generate, status and list: access, validation, idempotency, quota, crash safety."""

from __future__ import annotations

from devcapsules.services.generation import dispatch
from tests.generation.conftest import status, submit
from tests.support.auth import create_api_key, key_headers, register

JSON = {"content-type": "application/json"}

BODY = {"prompt": "Reverse a string", "language": "python", "difficulty": "easy"}


def test_requires_a_principal_with_generate(client, creator):
    assert client.post("/api/v1/generate", json=BODY).status == 401
    reader = create_api_key(client, creator, ["capsules:read"])
    denied = client.post("/api/v1/generate", json=BODY, headers=key_headers(reader))
    assert denied.status == 403 and denied.json()["error"]["code"] == "insufficient_scope"
    key = create_api_key(client, creator, ["generate"])
    accepted = client.post("/api/v1/generate", json=BODY, headers=key_headers(key))
    assert accepted.status == 202
    # The key acts for its owner: the owner's session sees the job.
    assert status(client, creator, accepted.json()["jobId"])["status"] == "queued"


def test_validation(client, creator):
    for body in (
        {**BODY, "language": "cobol"},
        {**BODY, "prompt": "   short  "},
        {**BODY, "prompt": "x" * 2001},
        {**BODY, "difficulty": "insane"},
        {**BODY, "extra": 1},
    ):
        response = client.post("/api/v1/generate", json=body, headers=creator.headers)
        assert response.status == 422, body
    assert client.post("/api/v1/generate", body=b"{", headers=creator.headers | JSON).status == 400


def test_status_is_owner_only(client, creator):
    job_id = submit(client, creator)
    other = register(client, plan="creator")
    response = client.get(f"/api/v1/generate/{job_id}/status", headers=other.headers)
    assert response.status == 404 and response.json()["error"]["code"] == "job_not_found"
    missing = client.get("/api/v1/generate/gen_1_deadbeef/status", headers=creator.headers)
    assert missing.status == 404
    assert client.get(f"/api/v1/generate/{job_id}/status").status == 401


def test_idempotency_key_same_body_same_job_one_charge(client, queue):
    account = register(client)  # free plan: 5 a day
    headers = {**account.headers, "Idempotency-Key": "req-42"}
    first = client.post("/api/v1/generate", json=BODY, headers=headers)
    again = client.post("/api/v1/generate", json=BODY, headers=headers)
    assert first.status == 202 and again.status == 200
    assert again.json()["jobId"] == first.json()["jobId"]
    assert again.headers["idempotent-replayed"] == "true"
    assert queue.pending() == 1
    other = client.post(
        "/api/v1/generate", json={**BODY, "prompt": "Fizzbuzz up to n"}, headers=headers
    )
    assert other.status == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    for _ in range(4):  # one charge so far: four more fit in the day
        assert client.post("/api/v1/generate", json=BODY, headers=account.headers).status == 202
    bad = client.post(
        "/api/v1/generate", json=BODY, headers={**account.headers, "Idempotency-Key": "a b"}
    )
    assert bad.status == 400


def test_daily_quota_is_enforced_and_failures_refund_it(client, queue):
    account = register(client)  # free plan: 5 generations a day
    ids = [submit(client, account, "Build a distributed database") for _ in range(5)]
    refused = client.post("/api/v1/generate", json=BODY, headers=account.headers)
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "generation_quota_exceeded"
    assert int(refused.headers["retry-after"]) > 0
    queue.deliver()  # the catalog has no such exercise: failed, and refunded
    assert all(status(client, account, job_id)["status"] == "failed" for job_id in ids)
    assert client.post("/api/v1/generate", json=BODY, headers=account.headers).status == 202


def test_crash_between_row_and_send_is_recovered_by_the_sweep(
    client, creator, queue, monkeypatch, logs
):
    real_send = client.env.generation_queue.send

    async def broken_send(*args, **kwargs):
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr(client.env.generation_queue, "send", broken_send)
    job_id = submit(client, creator)  # accepted: the row is durable
    assert queue.pending() == 0 and "generation_enqueue_deferred" in logs.actions()
    monkeypatch.setattr(client.env.generation_queue, "send", real_send)

    # A fresh row is left alone (its request may still be sending)...
    assert client.run(dispatch.resend_unsent_jobs(client.env, client.app.deps.clock)) == 0
    # ...an old enough one is sent, once.
    assert (
        client.run(
            dispatch.resend_unsent_jobs(client.env, client.app.deps.clock, older_than_seconds=0)
        )
        == 1
    )
    assert (
        client.run(
            dispatch.resend_unsent_jobs(client.env, client.app.deps.clock, older_than_seconds=0)
        )
        == 0
    )
    queue.deliver()
    assert status(client, creator, job_id)["status"] == "completed"


def test_a_failed_job_insert_refunds_the_charge(client):
    from tests.support.faults import FailingD1

    account = register(client)
    real = client.env.db
    client.env.db = FailingD1(
        real, r"INSERT INTO generation_jobs", "D1_ERROR: database is locked: SQLITE_BUSY"
    )
    response = client.post("/api/v1/generate", json=BODY, headers=account.headers)
    assert response.status == 503  # an outage, not a bug: retry later
    assert response.json()["error"]["code"] == "database_unavailable"
    client.env.db = real
    usage = client.get("/api/v1/auth/me", headers=account.headers).json()["usage"]
    assert usage["generations"]["day"]["used"] == 0


def test_job_list_pages_with_the_api_cursor_and_refuses_foreign_ones(client, creator):
    ids = [submit(client, creator) for _ in range(3)]
    first = client.get("/api/v1/generate?limit=2", headers=creator.headers).json()
    rest = client.get(
        f"/api/v1/generate?limit=2&cursor={first['nextCursor']}", headers=creator.headers
    ).json()
    listed = [job["jobId"] for job in first["jobs"] + rest["jobs"]]
    # Every job exactly once across the pages (same-millisecond jobs order by id).
    assert sorted(listed) == sorted(ids) and rest["nextCursor"] is None
    bad = client.get("/api/v1/generate?cursor=2026|gen_x", headers=creator.headers)
    assert bad.status == 422 and bad.json()["error"]["details"][0]["path"] == ["cursor"]
