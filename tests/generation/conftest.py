"""Fixtures for the generation suite: a fake model on loopback, and a queue driver that
delivers through the real broker (batches, retries, DLQ) into `app.handle_batch`."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devcapsules.bindings.sqlite_queue import ConsumerSettings, QueueBroker, QueueStore, SqliteQueue
from devcapsules.services.generation.providers.catalog import build_capsule, match
from tests.generation.fake_model import FakeModel
from tests.support.auth import Account, register

JOBS, DLQ = "generation-jobs", "generation-dlq"


def good_capsule(prompt: str = "reverse a string", language: str = "python") -> dict[str, Any]:
    """A verified-good capsule in the model's output shape (from the catalog)."""
    return copy.deepcopy(build_capsule(match(prompt), language))


def failing_capsule() -> dict[str, Any]:
    capsule = good_capsule()
    capsule["solution"] = "def reverse_string(s):\n    return s\n"
    return capsule


class QueueDriver:
    """Delivers what is in the local queue now (`deliver`), with a clock tests can move."""

    def __init__(self, client: Any):
        self.client = client
        if not isinstance(client.env.generation_queue, SqliteQueue):
            # On Miniflare the jobs' D1/KV work still goes to Miniflare; only the queue is
            # the local broker, whose clock these tests move (Miniflare's own consumer is
            # covered by tests/edge and by the HTTP flow in test_e2e_http.py).
            client.env.generation_queue = SqliteQueue(QueueStore(":memory:"), JOBS)
        self.store = client.env.generation_queue.store
        self.now = time.time()
        self.store.clock = lambda: self.now
        consumers = [
            ConsumerSettings(JOBS, max_batch_size=10, max_retries=3, dead_letter_queue=DLQ),
            ConsumerSettings(DLQ, max_batch_size=10, max_retries=3),
        ]
        self.broker = QueueBroker(self.store, consumers, self._handle)
        self.batches: list[Any] = []

    async def _handle(self, batch: Any) -> None:
        self.batches.append(batch)
        await self.client.app.handle_batch(batch, self.client.env)

    def deliver(self) -> int:
        return self.client.run(self.broker.deliver_due(force=True))

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def pending(self, queue: str = JOBS) -> int:
        return self.store.pending(queue)

    def visible_in(self, queue: str = JOBS) -> list[float]:
        rows = self.store.connection.execute(
            "SELECT visible_at FROM queue_messages WHERE queue = ?", (queue,)
        ).fetchall()
        return [row[0] - self.now for row in rows]


@pytest.fixture
def queue(client: Any) -> QueueDriver:
    return QueueDriver(client)


@pytest.fixture
def model(client: Any) -> Iterator[FakeModel]:
    with FakeModel(default=good_capsule()) as fake:
        client.reconfigure(**fake.vars())  # the provider is chosen when the app is built
        yield fake


@pytest.fixture
def creator(client: Any) -> Account:
    return register(client, plan="creator")


def submit(
    client: Any,
    account: Account,
    prompt: str = "Reverse a string",
    language: str = "python",
    headers: dict[str, str] | None = None,
) -> str:
    body = {"prompt": prompt, "language": language, "difficulty": "easy"}
    response = client.post(
        "/api/v1/generate", json=body, headers={**account.headers, **(headers or {})}
    )
    assert response.status == 202, response.body
    return response.json()["jobId"]


def status(client: Any, account: Account, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/generate/{job_id}/status", headers=account.headers)
    assert response.status == 200, response.body
    return response.json()
