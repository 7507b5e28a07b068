"""Dependencies built once per app and carried on the context (`ctx.deps`); tests inject
fakes through `build_app(..., dependencies=...)` (`Client.inject`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from devcapsules.services.execution.hybrid import HybridExecutor
from tests.capsules.support import capsule_body
from tests.support.auth import create_api_key, register

HELLO = {"source_code": "print('Hello World')", "language": "python"}


class FakeExecutor:
    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def for_language(self, language: str) -> FakeExecutor:  # the router's one method
        return self

    async def execute(self, source_code, language, *, stdin, limits):
        self.calls += 1
        # A whole backend answer: the router checks every body against its model.
        return {"status": "success", "stdout": "from the fake\n", "stderr": "", "exitCode": 0,
                "signal": None, "compileOutput": "", "timeMs": 1, "memoryKb": 1024,
                "stdoutTruncated": False, "stderrTruncated": False, "language": language,
                "version": "fake"}  # fmt: skip


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return 0.0


class CountingIds:
    def __init__(self) -> None:
        self.issued = 0

    def new(self, prefix: str, nbytes: int = 10) -> str:
        self.issued += 1
        return f"{prefix}_fake{self.issued:012d}"

    def hex(self, nbytes: int) -> str:
        self.issued += 1
        return f"{self.issued:0{2 * nbytes}x}"


def test_the_executor_is_built_once_per_app_and_shared_by_requests(client):
    executor = client.app.deps.executor
    assert isinstance(executor, HybridExecutor)
    assert executor.config is client.app.settings.execution  # no per-request parsing
    first, second = client.app.context(client.env), client.app.context(client.env)
    assert first.deps.executor is second.deps.executor is executor


def test_an_injected_executor_serves_execute(client):
    fake = FakeExecutor()
    client.inject(executor=fake)
    for _ in range(2):
        response = client.post("/api/v1/execute", json=HELLO)
        assert response.status == 200, response.body
        assert response.json()["stdout"] == "from the fake\n"
    assert fake.calls == 2


def test_the_injected_clock_and_ids_stamp_the_execution_record(client):
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    client.inject(executor=FakeExecutor(), clock=FixedClock(moment), ids=CountingIds())
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.json()["executionId"] == "exe_fake000000000001"
    client.settle()
    row = client.run(client.env.db.prepare("SELECT id, created_at FROM executions").first())
    assert row == {"id": "exe_fake000000000001", "created_at": "2030-01-02T03:04:05.000Z"}


def test_the_injected_clock_and_ids_stamp_accounts_keys_capsules_and_jobs(client):
    """Every service takes time and ids from `ctx.deps`: none reads the system clock or
    makes an id of its own (the rows and bodies show the fakes, nothing else)."""
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    stamp, ids = "2030-01-02T03:04:05.000Z", CountingIds()
    client.inject(clock=FixedClock(moment), ids=ids)
    fake = re.compile(r"(usr|rt|fam|key|cap)_fake\d{12}")

    def row(sql: str, *args: str) -> dict:
        return client.run(client.env.db.prepare(sql).bind(*args).first())

    account = register(client, plan="creator")  # register, set the plan, log in again
    assert fake.fullmatch(account.id)
    user = row("SELECT id, created_at, updated_at FROM users WHERE id = ?", account.id)
    assert user == {"id": account.id, "created_at": stamp, "updated_at": stamp}
    me = client.get("/api/v1/auth/me", headers=account.headers)  # a token of 2030 is valid
    assert me.status == 200 and me.json()["user"]["createdAt"] == stamp
    sessions = client.run(
        client.env.db.prepare("SELECT id, family_id, created_at FROM refresh_tokens").all()
    )["results"]
    assert len(sessions) == 2
    for session in sessions:
        assert fake.fullmatch(session["id"]) and fake.fullmatch(session["family_id"])
        assert session["created_at"] == stamp

    create_api_key(client, account, ["execute"])
    key = client.get("/api/v1/auth/api-keys", headers=account.headers).json()["apiKeys"][0]
    assert fake.fullmatch(key["id"]) and key["createdAt"] == stamp

    capsule = client.post("/api/v1/capsules", json=capsule_body(), headers=account.headers)
    assert capsule.status == 201, capsule.body
    created = capsule.json()["capsule"]
    assert fake.fullmatch(created["id"]) and created["createdAt"] == stamp

    body = {"prompt": "Reverse a string", "language": "python", "difficulty": "easy"}
    accepted = client.post("/api/v1/generate", json=body, headers=account.headers)
    assert accepted.status == 202, accepted.body
    job_id = accepted.json()["jobId"]
    epoch_ms = int(moment.timestamp() * 1000)
    assert re.fullmatch(rf"gen_{epoch_ms}_[0-9a-f]{{8}}", job_id)
    job = row("SELECT created_at, enqueued_at FROM generation_jobs WHERE id = ?", job_id)
    assert job == {"created_at": stamp, "enqueued_at": stamp}
    charge = row("SELECT charged_at FROM quota_charges WHERE job_id = ?", job_id)
    assert charge == {"charged_at": stamp}
    assert ids.issued == 8  # usr, rt+fam twice, key, cap, the job id's hex
