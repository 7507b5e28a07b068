"""Helpers for the execution tests."""

from __future__ import annotations

from typing import Any

from devcapsules.schemas.capsules import CapsuleContent
from devcapsules.services import capsules

HELLO = {"source_code": "print('Hello World')", "language": "python", "time_limit": 10}
ADD = {
    "userCode": "def add(a, b): return a + b",
    "testCases": [
        {"input": [1, 2], "expected": 3},
        {"input": [-1, 1], "expected": 0, "description": "signs"},
    ],
    "language": "python",
    "functionName": "add",
}
HIDDEN_EXPECTED = 424242  # must never appear in a response


def make_capsule(
    client: Any, owner_id: str, *, visibility: str = "public", published: bool = True
) -> str:
    content = CapsuleContent(
        title="Add two numbers",
        language="python",
        functionName="add",
        solution="def add(a, b): return a + b",
        testCases=[
            {"input": [1, 2], "expected": 3},
            {"input": [2, 3], "expected": 5},
            {"input": [424000, 242], "expected": HIDDEN_EXPECTED, "hidden": True},
        ],
        visibility=visibility,
    )
    return store_capsule(client, owner_id, content, published=published)


def store_capsule(client: Any, owner_id: str, content: CapsuleContent, *, published: bool) -> str:
    """Write a capsule straight to D1 (and publish it), stamped by the app's clock and ids."""
    clock, ids = client.app.deps.clock, client.app.deps.ids
    create = capsules.create(
        client.env.db, owner_id, content, capsule_id=ids.new("cap"), now=clock.now()
    )
    capsule = client.run(create)
    if published:
        changes = {"status": "published"}
        publish = capsules.update(
            client.env.db, capsule.id, capsule.version, changes, now=clock.now()
        )
        assert client.run(publish) is not None
    return capsule.id


def executions(client: Any) -> list[dict[str, Any]]:
    client.settle()
    rows = client.run(
        client.env.db.prepare("SELECT * FROM executions ORDER BY created_at, id").all()
    )
    return rows["results"]


def client_with(env: Any, loop: Any, logs: Any = None, **extra: str) -> Any:
    """An in-process client whose app reads these extra vars (e.g. the executor routing)."""
    from devcapsules.app import build_app
    from devcapsules.logs import Logger
    from devcapsules.settings import Settings
    from tests.conftest import Client, LogCapture

    settings = Settings.from_vars({**env.vars, **extra})
    logger = Logger(level="debug", sink=logs if logs is not None else LogCapture())
    return Client(build_app(settings, logger=logger), env, loop)
