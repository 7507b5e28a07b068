"""POST /{id}/publish: the reference solution must pass its own tests.

Most tests inject a fake executor (`client.inject(executor=...)`: the app's one executor,
which `/execute/tests` uses too); one runs the real local sandbox when this host has one.
"""

from __future__ import annotations

import pytest

from devcapsules import executor
from devcapsules.errors import DomainError, InvalidInput
from devcapsules.schemas.execution import SuiteResult
from tests.capsules.support import create, url


class FakeExecutor:
    """Answers like services.execution's executors: the typed `SuiteResult`."""

    def __init__(self, failing: tuple[int, ...] = (), error: DomainError | None = None):
        self.failing, self.error, self.calls = failing, error, []

    async def run_tests(self, code, test_cases, language, function_name, *, limits):
        self.calls.append((code, test_cases, language, function_name, limits))
        if self.error is not None:
            raise self.error
        results = [{"passed": i not in self.failing} for i in range(len(test_cases))]
        passed = sum(result["passed"] for result in results)
        status = "passed" if passed == len(results) else "failed"
        summary = {"passed": passed, "total": len(results), "status": status}
        return SuiteResult.model_validate(
            {"summary": summary, "results": results, "compileOutput": "", "error": None}
            | {"timeMs": 1, "memoryKb": 0, "language": language, "version": ""}
        )


@pytest.fixture
def runner(client) -> FakeExecutor:
    fake = FakeExecutor()
    client.inject(executor=fake)
    return fake


def publish(client, account, capsule_id, **headers):
    return client.post(url(capsule_id, "/publish"), headers={**account.headers, **headers})


def test_publish_runs_every_test_including_hidden_ones(client, owner, runner):
    capsule = create(client, owner)
    response = publish(client, owner, capsule["id"])
    assert response.status == 200
    published = response.json()["capsule"]
    assert (published["status"], published["version"]) == ("published", 2)
    assert response.headers["etag"] == 'W/"2"'
    code, cases, language, function_name, limits = runner.calls[0]
    assert code == capsule["solution"] and (language, function_name) == ("python", "add")
    assert [case.get("hidden") for case in cases] == [False, True]
    # The owner's plan limits, but a capsule's own suite is never cut by the plan.
    assert limits.caps.max_test_cases >= 100


def test_publishing_twice_is_idempotent(client, owner, runner):
    capsule = create(client, owner)
    publish(client, owner, capsule["id"])
    again = publish(client, owner, capsule["id"])
    assert again.status == 200 and again.json()["capsule"]["version"] == 2
    assert len(runner.calls) == 1


def test_a_capsule_without_tests_is_refused(client, owner, runner):
    capsule = create(client, owner, testCases=[])
    response = publish(client, owner, capsule["id"])
    assert response.status == 422
    assert response.json()["error"]["code"] == "no_test_cases"
    assert runner.calls == []


def test_a_capsule_without_a_solution_is_refused(client, owner, runner):
    capsule = create(client, owner, solution="  ")
    response = publish(client, owner, capsule["id"])
    assert (response.status, response.json()["error"]["code"]) == (422, "no_solution")


def test_a_failing_solution_is_refused_with_the_failing_tests(client, owner, runner):
    runner.failing = (1,)
    capsule = create(client, owner)
    response = publish(client, owner, capsule["id"])
    assert response.status == 422
    error = response.json()["error"]
    assert error["code"] == "solution_fails_tests"
    assert error["details"]["failedTestIndexes"] == [1]
    assert (error["details"]["passed"], error["details"]["total"]) == (1, 2)
    current = client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]
    assert (current["status"], current["version"]) == ("draft", 1)


def test_an_unavailable_sandbox_is_503(client, owner, monkeypatch):
    async def no_sandbox(*args, **kwargs):
        raise executor.SandboxUnavailable("install bubblewrap")

    monkeypatch.setattr(executor, "run_tests", no_sandbox)  # under the local backend
    capsule = create(client, owner)
    response = publish(client, owner, capsule["id"])
    assert response.status == 503
    assert response.json()["error"]["code"] == "sandbox_unavailable"
    current = client.get(url(capsule["id"]), headers=owner.headers).json()["capsule"]
    assert current["status"] == "draft"


def test_executor_refusals_pass_through(client, owner, runner):
    runner.error = InvalidInput("unsupported_language", "no rust here")
    capsule = create(client, owner)
    response = publish(client, owner, capsule["id"])
    assert (response.status, response.json()["error"]["code"]) == (422, "unsupported_language")


def test_changing_tested_fields_of_a_published_capsule_checks_again(client, owner, runner):
    capsule = create(client, owner)
    publish(client, owner, capsule["id"])
    runner.failing = (0,)
    broken = {"solution": "def add(a, b):\n    return a - b\n"}
    response = client.patch(url(capsule["id"]), json=broken, headers=owner.headers)
    assert (response.status, response.json()["error"]["code"]) == (422, "solution_fails_tests")
    assert runner.calls[-1][0] == broken["solution"]
    # Fields the tests do not depend on change without a run; unpublishing needs none.
    calls = len(runner.calls)
    assert (
        client.patch(url(capsule["id"]), json={"title": "T"}, headers=owner.headers).status == 200
    )
    unpublish = {**broken, "status": "draft"}
    assert client.patch(url(capsule["id"]), json=unpublish, headers=owner.headers).status == 200
    assert len(runner.calls) == calls


def test_publish_needs_the_owner(client, owner, other, runner):
    private = create(client, owner, visibility="private")
    assert publish(client, other, private["id"]).status == 404
    assert client.post(url(private["id"], "/publish")).status == 401


@pytest.fixture
def sandbox():
    try:
        executor.sandbox.detect_sandbox()
    except executor.SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this host: {exc}")


def test_publish_with_the_real_executor(client, owner, sandbox):
    good = create(client, owner)
    assert publish(client, owner, good["id"]).status == 200
    bad = create(client, owner, solution="def add(a, b):\n    return a * b\n")
    response = publish(client, owner, bad["id"])
    assert response.status == 422
    assert response.json()["error"]["details"]["failedTestIndexes"] == [0, 1]
    io = create(
        client,
        owner,
        functionName=None,
        solution="a, b = map(int, input().split())\nprint(a + b)\n",
        testCases=[{"stdin": "1 2\n", "expectedOutput": "3"}],
    )
    assert publish(client, owner, io["id"]).status == 200
