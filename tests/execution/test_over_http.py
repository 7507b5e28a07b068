"""The seed examples against the real local host (`devcapsules dev`) over HTTP."""

from __future__ import annotations

import httpx

from tests.execution.support import ADD, HELLO
from tests.support.server import dev_server


def test_seed_examples_over_real_http(tmp_path):
    with dev_server(tmp_path / "state") as base:
        response = httpx.post(f"{base}/api/v1/execute", json=HELLO, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["stdout"] == "Hello World\n"
        response = httpx.post(f"{base}/api/v1/execute/tests", json=ADD, timeout=30)
        assert response.json()["summary"]["status"] == "passed", response.text
        languages = httpx.get(f"{base}/api/v1/execute/languages").json()["languages"]
        assert "python" in {item["language"] for item in languages}
