"""Outbound calls to the executor service and Piston: one total deadline, and answers
checked (shape and size) before use. The peer is a real loopback HTTP server that
trickles, hangs or answers badly (`tests.support.peers`)."""

from __future__ import annotations

import json

import pytest

from tests.execution.support import ADD, HELLO, client_with, executions
from tests.support.peers import Behaviour, misbehaving_peer
from tests.support.server import refused_url

GOOD_RUN = {
    "success": True,
    "status": "ok",
    "stdout": "Hello World\n",
    "stderr": "",
    "exitCode": 0,
    "signal": None,
    "compileOutput": "",
    "timeMs": 12,
    "memoryKb": 900,
    "stdoutTruncated": False,
    "stderrTruncated": False,
    "language": "python",
    "version": "3.11",
    "requestId": "req_from_the_service",
    "limits": {"timeLimit": 10, "memoryLimit": 256},
}
HUGE_STDOUT = {**GOOD_RUN, "stdout": "x" * (20 * 1024 * 1024)}


def remote(env, loop, logs, url: str, **extra: str):
    return client_with(
        env, loop, logs, EXECUTOR_BACKEND_DEFAULT="remote", EXECUTOR_URL=url, **extra
    )


def piston(env, loop, logs, url: str, **extra: str):
    return client_with(env, loop, logs, EXECUTOR_BACKEND_DEFAULT="piston", PISTON_URL=url, **extra)


# ------------------------------------------------------------ deadlines


@pytest.mark.parametrize("backend", [remote, piston])
def test_a_trickling_executor_is_a_504_within_the_deadline(env, loop, logs, backend):
    # A byte every 0.5 s never trips a per-read timeout of 2 s: only a total deadline
    # ends this call before the peer's 30 s answer is complete.
    trickle = Behaviour(body=json.dumps(GOOD_RUN).encode()[:60], trickle_every_s=0.5)
    with misbehaving_peer(trickle) as peer:
        client = backend(env, loop, logs, peer.url, EXECUTOR_TIMEOUT_S="2")
        response = client.post("/api/v1/execute", json=HELLO)
        assert response.status == 504, response.body
        assert response.json()["error"]["code"] == "executor_timeout"
        assert "2 s" in response.json()["error"]["message"]
        assert peer.abandoned.wait(10)  # we hung up; the peer never finished its answer
    assert executions(client) == []


def test_a_hung_executor_is_a_504(env, loop, logs):
    with misbehaving_peer(Behaviour(hang=True)) as peer:
        client = remote(env, loop, logs, peer.url, EXECUTOR_TIMEOUT_S="1")
        response = client.post("/api/v1/execute/tests", json=ADD)
        assert response.status == 504 and response.json()["error"]["code"] == "executor_timeout"
        assert peer.abandoned.wait(10)


def test_the_deadline_is_derived_from_the_run_limits():
    from devcapsules.services.execution.piston import PistonExecutor
    from devcapsules.services.execution.remote import NETWORK_SLACK_S, RemoteExecutor
    from devcapsules.services.plans import DEFAULT_PLANS

    limits = DEFAULT_PLANS["free"].execution.clamp(2, None)
    assert RemoteExecutor("http://x", None).deadline_s(2) == 2 * 1.5 + NETWORK_SLACK_S
    assert RemoteExecutor("http://x", None, timeout_s=3).deadline_s(2) == 3
    assert PistonExecutor("http://x").deadline_s(limits) == 2 + 10 + 5
    assert PistonExecutor("http://x", timeout_s=4).deadline_s(limits) == 4


# ------------------------------------------------------------ answers checked


MALFORMED = {
    "an envelope without a result": {"success": True},
    "fields of the wrong type": {"status": 5, "stdout": 7},
    "a result missing fields": {k: v for k, v in GOOD_RUN.items() if k != "stderr"},
    "not an object": [1, 2, 3],
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_executor_answer_is_a_502(env, loop, logs, body):
    with misbehaving_peer(Behaviour(body=json.dumps(body).encode())) as peer:
        client = remote(env, loop, logs, peer.url)
        response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 502, response.body
    assert response.json()["error"]["code"] == "executor_bad_response"
    logged = [line for line in logs.lines if line["action"] == "executor_bad_response"]
    assert logged and logged[0]["backend"] == "remote" and logged[0]["reason"]


def test_an_answer_that_is_not_json_is_a_502(env, loop, logs):
    behaviour = Behaviour(body=b"<html>gateway</html>", content_type="text/html")
    with misbehaving_peer(behaviour) as peer:
        response = remote(env, loop, logs, peer.url).post("/api/v1/execute", json=HELLO)
    assert response.status == 502
    assert response.json()["error"]["code"] == "executor_bad_response"


def test_a_malformed_suite_answer_is_a_502(env, loop, logs):
    suite = {"summary": {"passed": "two", "total": 2, "status": "passed"}, "results": []}
    with misbehaving_peer(Behaviour(body=json.dumps(suite).encode())) as peer:
        response = remote(env, loop, logs, peer.url).post("/api/v1/execute/tests", json=ADD)
    assert response.status == 502
    assert response.json()["error"]["code"] == "executor_bad_response"


def test_a_good_answer_keeps_only_the_declared_fields(env, loop, logs):
    answer = {**GOOD_RUN, "debugToken": "internal"}
    with misbehaving_peer(Behaviour(body=json.dumps(answer).encode())) as peer:
        response = remote(env, loop, logs, peer.url).post("/api/v1/execute", json=HELLO)
    assert response.status == 200, response.body
    body = response.json()
    assert body["stdout"] == "Hello World\n" and "debugToken" not in body
    assert body.get("requestId") != "req_from_the_service"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_answer_is_refused_while_reading(env, loop, logs, chunked):
    behaviour = Behaviour(body=json.dumps(HUGE_STDOUT).encode(), chunked=chunked)
    with misbehaving_peer(behaviour) as peer:
        response = remote(env, loop, logs, peer.url).post("/api/v1/execute", json=HELLO)
    assert response.status == 502
    assert response.json()["error"]["code"] == "executor_bad_response"
    reasons = [line["reason"] for line in logs.lines if line["action"] == "executor_bad_response"]
    assert reasons and "bytes" in reasons[0]


PISTON_MALFORMED = {
    "no stages": {"language": "python", "version": "3.10"},
    "stdout not text": {"language": "python", "version": "3.10", "run": {"stdout": 5}},
    "not an object": "ok",
}


@pytest.mark.parametrize("body", PISTON_MALFORMED.values(), ids=PISTON_MALFORMED.keys())
def test_a_malformed_piston_answer_is_a_502(env, loop, logs, body):
    with misbehaving_peer(Behaviour(body=json.dumps(body).encode())) as peer:
        response = piston(env, loop, logs, peer.url).post("/api/v1/execute", json=HELLO)
    assert response.status == 502, response.body
    assert response.json()["error"]["code"] == "executor_bad_response"


def test_an_oversized_piston_answer_is_a_502(env, loop, logs):
    huge = {"language": "python", "version": "3.10", "run": {"stdout": "x" * (20 << 20)}}
    with misbehaving_peer(Behaviour(body=json.dumps(huge).encode(), chunked=True)) as peer:
        response = piston(env, loop, logs, peer.url).post("/api/v1/execute", json=HELLO)
    assert response.status == 502
    assert response.json()["error"]["code"] == "executor_bad_response"


# ------------------------------------------------------------ unavailable


@pytest.mark.parametrize("backend", [remote, piston])
def test_an_unreachable_executor_is_a_503_with_retry_after(env, loop, logs, backend):
    client = backend(env, loop, logs, refused_url())
    response = client.post("/api/v1/execute", json=HELLO)
    assert response.status == 503
    assert response.json()["error"]["code"] == "executor_unavailable"
    assert int(response.headers["retry-after"]) > 0
