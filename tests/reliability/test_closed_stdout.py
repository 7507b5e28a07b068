"""`devcapsules dev` with its stdout on a pipe nobody reads any more (the reader closed
it): every request still gets its real status and a JSON body, and stderr says once
that log lines are being dropped."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.capsules.support import capsule_body
from tests.support.auth import PASSWORD
from tests.support.server import dev_command, serving

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def dev_server_on_a_pipe(state_dir: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    command = functools.partial(dev_command, state_dir=state_dir)
    with serving(command, env, state_dir.parent, "stderr", stdout_pipe=True) as running:
        yield running


def test_every_request_answers_after_stdout_is_closed(tmp_path):
    with dev_server_on_a_pipe(tmp_path / "state") as (base, process, stderr_path):
        assert process.stdout is not None
        process.stdout.close()  # the log reader goes away mid-run
        with httpx.Client(base_url=base, timeout=30) as http:
            registered = http.post(
                "/api/v1/auth/register",
                json={"email": "pipe@example.com", "password": PASSWORD, "name": "P"},
            )
            assert registered.status_code == 201, registered.text
            headers = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
            created = http.post("/api/v1/capsules", json=capsule_body(), headers=headers)
            assert created.status_code == 201, created.text
            generate = {"prompt": "Reverse a string", "language": "python"}
            accepted = http.post("/api/v1/generate", json=generate, headers=headers)
            assert accepted.status_code == 202, accepted.text
            for response in (http.get("/health"), http.get("/health?deep=true")):
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "ok"
            missing = http.get("/api/v1/capsules/cap_nope", headers=headers)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "not_found"
            mine = http.get("/api/v1/capsules?owner=me", headers=headers).json()["capsules"]
            assert [c["id"] for c in mine] == [created.json()["capsule"]["id"]]
        assert process.poll() is None  # still serving
    reports = [line for line in stderr_path.read_text().splitlines() if "log sink" in line]
    assert len(reports) == 1 and "BrokenPipeError" in reports[0]
