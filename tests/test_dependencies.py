"""Dependencies built once per app and carried on the context (`ctx.deps`); tests inject
fakes through `build_app(..., dependencies=...)` (`Client.inject`)."""

from __future__ import annotations

from datetime import UTC, datetime

from devcapsules.services.execution.hybrid import HybridExecutor

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
