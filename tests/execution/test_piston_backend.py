"""The Piston v2 backend against a Piston stand-in over loopback HTTP, via the routing table."""

from __future__ import annotations

import pytest

from devcapsules.services.execution.piston import PARALLEL_CASES
from tests.execution.support import HELLO, client_with

RUST_HELLO = 'fn main() { println!("Hello from Rust"); }'


@pytest.fixture
def hybrid(env, loop, piston_url):
    # Python stays on the local sandbox; Rust goes to Piston.
    return client_with(env, loop, EXECUTOR_ROUTES="rust=piston", PISTON_URL=piston_url)


def rust(source: str, **extra) -> dict:
    return {"source_code": source, "language": "rust", **extra}


def test_routed_language_runs_on_piston(hybrid, fake_piston):
    response = hybrid.post("/api/v1/execute", json=rust(RUST_HELLO, time_limit=3, stdin="in"))
    assert response.status == 200, response.body
    body = response.json()
    assert body["stdout"] == "Hello from Rust\n" and body["status"] == "ok"
    assert body["backend"] == "piston" and body["version"] == "1.68.2"
    sent = fake_piston.requests[-1]
    assert sent["language"] == "rust" and sent["version"] == "*"
    assert sent["files"] == [{"content": RUST_HELLO}] and sent["stdin"] == "in"
    assert sent["run_timeout"] == 3000 and sent["run_memory_limit"] == 256 * 1024 * 1024


def test_other_languages_stay_local(hybrid, fake_piston):
    response = hybrid.post("/api/v1/execute", json=HELLO)
    assert response.json()["backend"] == "local"
    assert fake_piston.requests == []


def test_aliases_route_too(hybrid):
    response = hybrid.post("/api/v1/execute", json={**rust(RUST_HELLO), "language": "rs"})
    assert response.json()["backend"] == "piston"


def test_piston_statuses_map_to_ours(hybrid):
    timed_out = hybrid.post("/api/v1/execute", json=rust("fn main() { loop {} }", time_limit=1))
    assert timed_out.json()["status"] == "time_limit_exceeded"
    assert timed_out.json()["signal"] == 9
    failed = hybrid.post("/api/v1/execute", json=rust("COMPILE_ERROR"))
    assert failed.json()["status"] == "compile_error"
    assert "E0425" in failed.json()["compileOutput"]


def test_io_tests_run_on_piston_with_hidden_expectations_kept(hybrid, fake_piston):
    cases = [
        {"stdin": "2", "expectedOutput": "4"},
        {"stdin": "21", "expectedOutput": "42", "hidden": True},
    ]
    body = {"userCode": "// DOUBLE", "testCases": cases, "language": "rust"}
    response = hybrid.post("/api/v1/execute/tests", json=body)
    assert response.status == 200, response.body
    result = response.json()
    assert result["summary"] == {"passed": 2, "total": 2, "status": "passed"}
    assert set(result["results"][1]) == {"passed", "hidden", "error", "timeMs"}
    assert sorted(r["stdin"] for r in fake_piston.requests) == ["2", "21"]
    assert all("expectedOutput" not in r for r in fake_piston.requests)


def test_io_test_cases_run_concurrently_and_bounded(hybrid, fake_piston):
    """The stand-in holds each request until another is in flight: a one-at-a-time client
    would never overlap (and wait HOLD_S per case)."""
    cases = [{"stdin": str(i), "expectedOutput": str(2 * i)} for i in range(10)]
    body = {"userCode": "// DOUBLE OVERLAP", "testCases": cases, "language": "rust"}
    response = hybrid.post("/api/v1/execute/tests", json=body)
    assert response.status == 200, response.body
    result = response.json()
    assert result["summary"] == {"passed": 10, "total": 10, "status": "passed"}
    # Results stay in the order of the cases, whatever order Piston answered in.
    assert [r["actual"] for r in result["results"]] == [f"{2 * i}\n" for i in range(10)]
    assert 2 <= fake_piston.max_in_flight <= PARALLEL_CASES


def test_cases_past_the_run_deadline_are_time_limit_exceeded(hybrid, fake_piston):
    """The whole run gets the local executor's budget (time_limit x N + 2 s, capped):
    cases Piston has not answered by then are reported as timed out, and the rest of the
    suite still runs meanwhile."""
    cases = [
        {"stdin": "1", "expectedOutput": "2"},
        {"stdin": "hang", "expectedOutput": "x"},
        {"stdin": "3", "expectedOutput": "6"},
        {"stdin": "hang", "expectedOutput": "x", "hidden": True},
    ]
    body = {"userCode": "// DOUBLE HANG", "testCases": cases, "language": "rust", "time_limit": 0.1}
    response = hybrid.post("/api/v1/execute/tests", json=body)
    assert response.status == 200, response.body
    result = response.json()
    assert result["summary"] == {"passed": 2, "total": 4, "status": "time_limit_exceeded"}
    first, hung, third, hidden = result["results"]
    assert first["passed"] and third["passed"]
    assert hung["passed"] is False and hung["actual"] is None
    assert hung["error"] == "time limit exceeded: the run ended before this test completed"
    assert hidden == {"passed": False, "hidden": True, "error": "time limit exceeded", "timeMs": 0}
    assert result["error"] == hung["error"]


def test_function_tests_on_piston_are_refused_clearly(hybrid):
    body = {
        "userCode": "fn add(a: i32, b: i32) -> i32 { a + b }",
        "testCases": [{"input": [1, 2], "expected": 3}],
        "language": "rust",
        "functionName": "add",
    }
    response = hybrid.post("/api/v1/execute/tests", json=body)
    assert response.status == 422
    assert "stdin/expectedOutput" in response.json()["error"]["message"]


def test_languages_merge_backends(hybrid):
    languages = {
        item["language"]: item["backend"]
        for item in hybrid.get("/api/v1/execute/languages").json()["languages"]
    }
    assert languages["rust"] == "piston" and languages["python"] == "local"


def test_piston_as_default_refuses_unknown_runtimes_with_its_list(env, loop, piston_url):
    client = client_with(env, loop, EXECUTOR_BACKEND_DEFAULT="piston", PISTON_URL=piston_url)
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 422
    assert response.json()["error"]["details"]["supported"] == ["rust"]


def test_a_failing_case_request_fails_the_whole_concurrent_run(env, loop, piston_url):
    client = client_with(env, loop, EXECUTOR_BACKEND_DEFAULT="piston", PISTON_URL=piston_url)
    cases = [{"stdin": str(i), "expectedOutput": str(i)} for i in range(6)]
    body = {"userCode": "print(input())", "testCases": cases, "language": "python"}
    response = client.post("/api/v1/execute/tests", json=body)
    assert response.status == 422
    assert response.json()["error"]["code"] == "unsupported_language"


def test_a_compile_error_is_the_runs_outcome(hybrid):
    cases = [{"stdin": str(i), "expectedOutput": str(i)} for i in range(6)]
    body = {"userCode": "COMPILE_ERROR", "testCases": cases, "language": "rust"}
    result = hybrid.post("/api/v1/execute/tests", json=body).json()
    assert result["summary"] == {"passed": 0, "total": 6, "status": "compile_error"}
    assert "E0425" in result["compileOutput"]
