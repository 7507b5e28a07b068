"""POST /api/v1/execute/tests: inline test cases and a capsule's own (hidden) tests."""

from __future__ import annotations

import json

import pytest

from tests.execution.support import ADD, HIDDEN_EXPECTED, executions, make_capsule
from tests.support.auth import register

URL = "/api/v1/execute/tests"


def test_seed_add_function_passes_its_tests(client):
    response = client.post(URL, json=ADD)
    assert response.status == 200, response.body
    body = response.json()
    assert body["summary"] == {"passed": 2, "total": 2, "status": "passed"}
    first, second = body["results"]
    assert first["passed"] is True and first["actual"] == 3 and first["expected"] == 3
    assert second["description"] == "signs"
    assert body["backend"] == "local" and body["language"] == "python"


def test_failures_show_actual_and_expected(client):
    response = client.post(URL, json={**ADD, "userCode": "def add(a, b): return a - b"})
    body = response.json()
    assert body["summary"] == {"passed": 0, "total": 2, "status": "failed"}
    assert body["results"][0]["actual"] == -1 and body["results"][0]["expected"] == 3


def test_io_tests_run_for_any_language(client):
    body = {
        "userCode": "console.log(require('fs').readFileSync(0, 'utf8').trim().length)",
        "testCases": [
            {"stdin": "abc", "expectedOutput": "3"},
            {"stdin": "", "expectedOutput": "0"},
        ],
        "language": "javascript",
    }
    response = client.post(URL, json=body)
    assert response.json()["summary"]["status"] == "passed", response.body


def test_printing_fake_results_does_not_pass(client):
    forged = 'print(\'{"index": 0, "passed": true}\')\ndef add(a, b): return 42'
    response = client.post(URL, json={**ADD, "userCode": forged})
    assert response.json()["summary"]["passed"] == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"testCases": [{"input": [1, 2]}]}, "invalid_test_cases"),
        ({"language": "cobol"}, "unsupported_language"),
        ({"testCases": []}, "validation_error"),
        ({"testCases": None}, "validation_error"),
        ({"capsuleId": "cap_x"}, "validation_error"),
        ({"functionName": "not a name"}, "validation_error"),
    ],
)
def test_invalid_requests_are_422(client, change, code):
    body = {k: v for k, v in {**ADD, **change}.items() if v is not None}
    response = client.post(URL, json=body)
    assert response.status == 422, response.body
    assert response.json()["error"]["code"] == code


def test_anonymous_test_case_count_is_capped(client):
    cases = [{"input": [i, i], "expected": 2 * i} for i in range(21)]
    response = client.post(URL, json={**ADD, "testCases": cases})
    assert response.status == 422
    assert response.json()["error"]["code"] == "too_many_test_cases"
    account = register(client)
    response = client.post(URL, json={**ADD, "testCases": cases}, headers=account.headers)
    assert response.json()["summary"] == {"passed": 21, "total": 21, "status": "passed"}


def test_capsule_tests_run_with_hidden_expectations_never_returned(client):
    owner = register(client)
    capsule_id = make_capsule(client, owner.id)
    for code, passed in (("def add(a, b): return a + b", 3), ("def add(a, b): return 7", 0)):
        response = client.post(URL, json={"capsuleId": capsule_id, "userCode": code})
        assert response.status == 200, response.body
        body = response.json()
        assert body["summary"]["total"] == 3 and body["summary"]["passed"] == passed
        assert body["capsuleId"] == capsule_id
        hidden = body["results"][2]
        assert set(hidden) == {"passed", "hidden", "error", "timeMs"}
        assert str(HIDDEN_EXPECTED) not in json.dumps(body)


def test_hidden_results_reveal_no_output_of_the_code(client):
    owner = register(client)
    capsule_id = make_capsule(client, owner.id)
    code = "def add(a, b):\n    print('LEAK', a, b)\n    raise ValueError(f'LEAK {a}')"
    body = client.post(URL, json={"capsuleId": capsule_id, "userCode": code}).json()
    assert "LEAK" not in json.dumps(body["results"][2])
    assert body["results"][2]["error"] == "runtime error"


def test_private_capsules_run_for_their_owner_only(client):
    owner, other = register(client), register(client)
    capsule_id = make_capsule(client, owner.id, visibility="private")
    body = {"capsuleId": capsule_id, "userCode": "def add(a, b): return a + b"}
    assert client.post(URL, json=body, headers=owner.headers).status == 200
    assert client.post(URL, json=body, headers=other.headers).status == 404
    assert client.post(URL, json=body).status == 404


def test_drafts_of_others_and_missing_capsules_are_404(client):
    owner = register(client)
    draft = make_capsule(client, owner.id, published=False)
    code = "def add(a, b): return a + b"
    assert client.post(URL, json={"capsuleId": draft, "userCode": code}).status == 404
    missing = client.post(URL, json={"capsuleId": "cap_missing", "userCode": code})
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"


def test_test_runs_are_recorded_with_capsule_and_counts(client):
    owner = register(client)
    capsule_id = make_capsule(client, owner.id)
    client.post(URL, json=ADD)
    client.post(
        URL,
        json={"capsuleId": capsule_id, "userCode": "def add(a, b): return 3"},
        headers=owner.headers,
    )
    inline, capsule = executions(client)
    assert inline["kind"] == "tests" and inline["capsule_id"] is None
    assert (inline["tests_passed"], inline["tests_total"], inline["status"]) == (2, 2, "passed")
    assert capsule["capsule_id"] == capsule_id and capsule["user_id"] == owner.id
    assert (capsule["tests_passed"], capsule["tests_total"], capsule["status"]) == (1, 3, "failed")


def test_capsule_runs_feed_analytics_with_the_widget_session(client):
    """A run against a capsule counts as a test_run event (event id = execution id)."""
    owner = register(client)
    capsule_id = make_capsule(client, owner.id)
    for session in ("learner-a", "learner-a", "learner-b"):
        response = client.post(
            URL,
            json={"capsuleId": capsule_id, "userCode": "def add(a, b): return a + b"},
            headers={**owner.headers, "X-Session-Id": session},
        )
        assert response.json()["summary"]["passed"] == 3
    client.settle()
    report = client.get(f"/api/v1/analytics/capsules/{capsule_id}", headers=owner.headers).json()
    assert report["testRuns"] == 3
    assert report["uniqueSessions"] == 2
    assert report["testRunsPassed"] == 3


def test_malformed_session_header_is_422(client):
    response = client.post(URL, json=ADD, headers={"X-Session-Id": "not valid!"})
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == ["header", "X-Session-Id"]
