"""A log sink that fails never fails a request: the write happened, so must the answer."""

from __future__ import annotations

import errno
import json

import pytest

from devcapsules.app import build_app
from devcapsules.logs import GuardedSink, Logger
from devcapsules.settings import Settings
from tests.capsules.support import capsule_body
from tests.conftest import Client
from tests.support.auth import register

GENERATE = {"prompt": "Reverse a string", "language": "python", "difficulty": "easy"}
FAULTS = [
    BrokenPipeError(errno.EPIPE, "Broken pipe"),
    OSError(errno.ENOSPC, "No space left on device"),
    ValueError("I/O operation on closed file."),
]


class FailingSink:
    """Accepts lines until `fail()`, then raises `fault` on every write."""

    def __init__(self, fault: Exception):
        self.fault, self.failing, self.lines = fault, False, []

    def __call__(self, line: str) -> None:
        if self.failing:
            raise self.fault
        self.lines.append(json.loads(line))


@pytest.fixture(params=FAULTS, ids=lambda fault: type(fault).__name__ + str(fault.args[0]))
def sink(request) -> FailingSink:
    return FailingSink(request.param)


@pytest.fixture
def failing(env, loop, sink) -> Client:
    settings = Settings.from_vars(env.vars)
    return Client(build_app(settings, logger=Logger(level="debug", sink=sink)), env, loop)


def test_requests_answer_their_real_status_while_the_sink_fails(failing, sink):
    account = register(failing)
    sink.failing = True
    created = failing.post("/api/v1/capsules", json=capsule_body(), headers=account.headers)
    assert created.status == 201, created.body
    capsule_id = created.json()["capsule"]["id"]
    accepted = failing.post("/api/v1/generate", json=GENERATE, headers=account.headers)
    assert accepted.status == 202, accepted.body
    assert accepted.json()["jobId"].startswith("gen_")
    health = failing.get("/health")
    assert health.status == 200 and health.json()["status"] == "ok"
    missing = failing.get("/api/v1/capsules/cap_missing", headers=account.headers)
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    # The writes and their answers agree: the capsule is there, once.
    listed = failing.get("/api/v1/capsules?owner=me", headers=account.headers).json()
    assert [c["id"] for c in listed["capsules"]] == [capsule_id]


def test_the_next_line_that_gets_through_says_how_many_were_lost(failing, sink):
    sink.failing = True
    for _ in range(3):
        assert failing.get("/health").status == 200
    sink.failing = False
    failing.get("/health")
    notice = sink.lines[-2]
    assert notice["action"] == "log_lines_dropped" and notice["dropped"] == 3
    assert type(sink.fault).__name__ in notice["error"]
    assert sink.lines[-1]["action"] == "request"


def test_a_failing_sink_is_reported_once_on_stderr():
    reports: list[str] = []

    def broken(line: str) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    guarded = GuardedSink(broken, report=reports.append)
    for _ in range(5):
        guarded("{}")
    assert len(reports) == 1 and "BrokenPipeError" in reports[0]
    assert guarded.dropped == guarded.dropped_total == 5


def test_a_field_that_cannot_be_serialised_does_not_raise():
    lines: list[str] = []

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    Logger(sink=lines.append).info("odd", value=Unprintable())
    assert json.loads(lines[0])["action"] == "odd"
