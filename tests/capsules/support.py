"""Capsule payloads and helpers shared by the capsule tests."""

from __future__ import annotations

from typing import Any

BASE = "/api/v1/capsules"


def capsule_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Add two numbers",
        "description": "Return the sum of a and b",
        "problem": "Write `add(a, b)`.",
        "language": "python",
        "difficulty": "easy",
        "starterCode": "def add(a, b):\n    pass\n",
        "solution": "def add(a, b):\n    return a + b\n",
        "functionName": "add",
        "testCases": [
            {"input": [1, 2], "expected": 3, "description": "small"},
            {"input": [-1, 1], "expected": 0, "hidden": True},
        ],
        "hints": ["Use +"],
        "tags": ["math", "basics"],
        "visibility": "public",
    }
    body.update(overrides)
    return body


def create(client: Any, account: Any, **overrides: Any) -> dict[str, Any]:
    response = client.post(BASE, json=capsule_body(**overrides), headers=account.headers)
    assert response.status == 201, response.body
    return response.json()["capsule"]


def url(capsule_id: str, suffix: str = "") -> str:
    return f"{BASE}/{capsule_id}{suffix}"


def publish_directly(client: Any, capsule_id: str) -> None:
    """Mark published without running tests (publish itself is tested in test_publish)."""
    from devcapsules.services import capsules as repository

    capsule = client.run(repository.get(client.env.db, capsule_id))
    updated = client.run(
        repository.update(
            client.env.db,
            capsule_id,
            capsule.version,
            {"status": "published"},
            now=client.app.deps.clock.now(),
        )
    )
    assert updated is not None


def ids(response: Any) -> list[str]:
    assert response.status == 200, response.body
    return [capsule["id"] for capsule in response.json()["capsules"]]
