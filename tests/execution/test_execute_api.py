"""POST /api/v1/execute and GET /api/v1/execute/languages through the app (local backend)."""

from __future__ import annotations

import pytest

from tests.execution.support import HELLO, executions
from tests.support.auth import create_api_key, key_headers, register


def test_seed_example_prints_hello_world(client):
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 200, response.body
    body = response.json()
    assert body["success"] is True
    assert body["stdout"] == "Hello World\n"
    assert body["status"] == "ok"
    assert body["exitCode"] == 0 and body["signal"] is None
    assert body["stderr"] == "" and body["compileOutput"] == ""
    assert body["language"] == "python" and body["backend"] == "local"
    assert isinstance(body["timeMs"], int) and isinstance(body["memoryKb"], int)
    assert body["executionId"].startswith("exe_")


def test_stdin_reaches_the_program(client):
    source = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))"
    response = client.post(
        "/api/v1/execute", json={"source_code": source, "language": "py", "stdin": "2 3 4"}
    )
    assert response.json()["stdout"] == "9\n"


def test_a_failing_program_is_a_runtime_error_not_an_http_error(client):
    response = client.post(
        "/api/v1/execute", json={"source_code": "raise SystemExit(3)", "language": "python"}
    )
    assert response.status == 200
    assert response.json()["status"] == "runtime_error"
    assert response.json()["exitCode"] == 3


def test_unknown_language_is_422_listing_supported_ones(client):
    response = client.post("/api/v1/execute", json={**HELLO, "language": "cobol"})
    assert response.status == 422
    error = response.json()["error"]
    assert error["code"] == "unsupported_language"
    assert "python" in error["details"]["supported"]
    assert "javascript" in error["details"]["supported"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"time_limit": "10"}, ["time_limit"]),
        ({"source_code": 123}, ["source_code"]),
        ({"memory_limit": 1.5}, ["memory_limit"]),
        ({"time_limit": -1}, ["time_limit"]),
        ({"stdin": ["a"]}, ["stdin"]),
        ({"sourceCode": "x"}, ["sourceCode"]),
    ],
)
def test_wrong_types_are_422_with_the_field_path(client, change, path):
    response = client.post("/api/v1/execute", json={**HELLO, **change})
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == path


def test_missing_language_is_422(client):
    response = client.post("/api/v1/execute", json={"source_code": "print(1)"})
    assert response.status == 422


def test_huge_stdin_is_413_with_the_plan_limit(client):
    response = client.post("/api/v1/execute", json={**HELLO, "stdin": "x" * 100_000})
    assert response.status == 413
    error = response.json()["error"]
    assert error["code"] == "stdin_too_large"
    assert error["details"]["limitBytes"] == 64 * 1024


def test_huge_source_is_413(client):
    source = "# " + "x" * 70_000
    response = client.post("/api/v1/execute", json={**HELLO, "source_code": source})
    assert response.status == 413
    assert response.json()["error"]["code"] == "source_too_large"


def test_a_body_above_the_request_limit_is_413(client):
    response = client.post("/api/v1/execute", json={**HELLO, "stdin": "x" * 2_000_000})
    assert response.status == 413


@pytest.mark.parametrize(
    ("plan", "time_limit", "memory_limit"),
    [(None, 5.0, 256), ("free", 5.0, 256), ("creator", 10.0, 512), ("team", 15.0, 1024)],
)
def test_client_limits_are_capped_by_plan(client, plan, time_limit, memory_limit):
    headers = register(client, plan=plan).headers if plan else {}
    response = client.post(
        "/api/v1/execute",
        json={**HELLO, "time_limit": 60, "memory_limit": 4096},
        headers=headers,
    )
    assert response.status == 200, response.body
    assert response.json()["limits"] == {"timeLimit": time_limit, "memoryLimit": memory_limit}


def test_lower_client_limits_are_kept_and_defaults_fill_gaps(client):
    response = client.post(
        "/api/v1/execute", json={"source_code": "print(1)", "language": "python", "time_limit": 1}
    )
    assert response.json()["limits"] == {"timeLimit": 1.0, "memoryLimit": 256}
    response = client.post("/api/v1/execute", json={"source_code": "1", "language": "python"})
    assert response.json()["limits"] == {"timeLimit": 2.0, "memoryLimit": 256}


def test_time_limit_is_enforced(client):
    response = client.post(
        "/api/v1/execute",
        json={"source_code": "while True: pass", "language": "python", "time_limit": 1},
    )
    assert response.status == 200
    assert response.json()["status"] == "time_limit_exceeded"


def test_api_key_needs_the_execute_scope(client):
    account = register(client)
    allowed = create_api_key(client, account, ["execute"])
    refused = create_api_key(client, account, ["capsules:read"])
    assert client.post("/api/v1/execute", json=HELLO, headers=key_headers(allowed)).status == 200
    response = client.post("/api/v1/execute", json=HELLO, headers=key_headers(refused))
    assert response.status == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_executions_are_recorded_with_who_ran_them(client):
    account = register(client)
    key = create_api_key(client, account, ["execute"])
    client.post("/api/v1/execute", json=HELLO)
    client.post("/api/v1/execute", json=HELLO, headers=key_headers(key))
    client.post("/api/v1/execute", json={"source_code": "1/0", "language": "python"})
    anonymous, keyed, failed = executions(client)
    assert anonymous["user_id"] is None and anonymous["api_key_id"] is None
    assert anonymous["kind"] == "run" and anonymous["status"] == "ok"
    assert anonymous["language"] == "python" and anonymous["duration_ms"] > 0
    assert keyed["user_id"] == account.id and keyed["api_key_id"].startswith("key_")
    assert failed["status"] == "runtime_error"
    assert anonymous["tests_total"] is None


def test_the_execution_id_is_the_recorded_row(client):
    execution_id = client.post("/api/v1/execute", json=HELLO).json()["executionId"]
    assert [row["id"] for row in executions(client)] == [execution_id]


def test_languages_lists_version_aliases_and_backend(client):
    response = client.get("/api/v1/execute/languages")
    assert response.status == 200
    languages = {item["language"]: item for item in response.json()["languages"]}
    assert {"python", "javascript"} <= set(languages)
    assert "py" in languages["python"]["aliases"]
    assert languages["python"]["backend"] == "local"
    assert languages["python"]["version"][0].isdigit()


ATTACKS = {
    "fork bomb": (
        "import os\nwhile True:\n    os.fork()",
        {"runtime_error", "time_limit_exceeded"},
    ),
    "output flood": ("while True: print('x' * 1000)", {"output_limit_exceeded"}),
    "secrets": (
        "import os\nprint(open('/proc/1/environ').read()); print(dict(os.environ))",
        {"ok", "runtime_error"},
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_are_contained_and_the_server_stays_healthy(client, name):
    source, statuses = ATTACKS[name]
    response = client.post(
        "/api/v1/execute", json={"source_code": source, "language": "python", "time_limit": 2}
    )
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] in statuses
    assert "JWT_SECRET" not in body["stdout"] and "test-secret" not in body["stdout"]
    assert len(body["stdout"]) <= 64 * 1024
    assert client.get("/health").status == 200
    assert client.post("/api/v1/execute", json=HELLO).json()["stdout"] == "Hello World\n"


@pytest.mark.slow
def test_a_sandbox_that_cannot_start_is_503_and_runs_nothing(client, monkeypatch):
    from tests.support.broken_bwrap import broken_bwrap

    with broken_bwrap(monkeypatch):
        response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 503
    error = response.json()["error"]
    assert error["code"] == "sandbox_unavailable"
    assert "cannot create the sandbox" in error["message"]
    assert "user namespaces" in error["message"]


def test_languages_says_which_toolchains_cannot_run_and_why(client, monkeypatch):
    from devcapsules import executor

    monkeypatch.setattr(executor, "unusable_languages", lambda: {"java": "javac is broken"})
    body = client.get("/api/v1/execute/languages").json()
    assert body["unavailable"] == [{"language": "java", "reason": "javac is broken"}]
