"""A capsule's stored suite is bounded by the capsule schema, not by the caller's plan.

Capsules may hold up to `TEST_CASES_MAX` (100) test cases and publishing accepts any of
them, so a learner (anonymous in the embed widget: 20 cases per inline run) must be able
to run every published suite; inline suites keep the plan's cap.
"""

from __future__ import annotations

from devcapsules.schemas.capsules import TEST_CASES_MAX, CapsuleContent
from devcapsules.services.plans import DEFAULT_PLANS
from tests.execution.support import ADD, store_capsule
from tests.support.auth import register

URL = "/api/v1/execute/tests"
CASES = [{"input": [i, i], "expected": 2 * i} for i in range(25)]


def published_capsule(client, owner_id: str, cases: list[dict]) -> str:
    content = CapsuleContent(
        title="Add two numbers",
        language="python",
        functionName="add",
        solution="def add(a, b): return a + b",
        testCases=cases,
        visibility="public",
    )
    return store_capsule(client, owner_id, content, published=True)


def test_the_case_count_is_above_the_anonymous_cap_and_within_a_capsules():
    assert DEFAULT_PLANS["anonymous"].execution.max_test_cases < len(CASES) <= TEST_CASES_MAX


def test_an_anonymous_learner_runs_a_published_suite_above_the_plan_cap(client):
    owner = register(client)
    capsule_id = published_capsule(client, owner.id, CASES)
    body = {"capsuleId": capsule_id, "userCode": ADD["userCode"]}
    response = client.post(URL, json=body)  # no credentials: the embed widget
    assert response.status == 200, response.body
    result = response.json()
    assert result["summary"] == {"passed": 25, "total": 25, "status": "passed"}
    assert len(result["results"]) == 25
    # The caller's time and memory caps still apply.
    assert result["limits"] == DEFAULT_PLANS["anonymous"].execution.clamp(None, None).public()


def test_a_full_capsule_runs_for_a_free_account(client):
    owner, learner = register(client), register(client)
    cases = [{"input": [i, 1], "expected": i + 1} for i in range(TEST_CASES_MAX)]
    capsule_id = published_capsule(client, owner.id, cases)
    body = {"capsuleId": capsule_id, "userCode": ADD["userCode"]}
    response = client.post(URL, json=body, headers=learner.headers)
    assert response.status == 200, response.body
    assert response.json()["summary"]["total"] == TEST_CASES_MAX


def test_an_inline_suite_keeps_the_plan_cap(client):
    response = client.post(URL, json={**ADD, "testCases": CASES})
    assert response.status == 422
    error = response.json()["error"]
    assert error["code"] == "too_many_test_cases"
    assert error["details"] == {
        "limit": DEFAULT_PLANS["anonymous"].execution.max_test_cases,
        "count": 25,
    }
