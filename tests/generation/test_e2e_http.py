"""The whole flow over real HTTP: `devcapsules dev` serves the API and its in-process
broker delivers to the consumer; the catalog provider needs no model."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.support.server import dev_server, read_log_lines

pytestmark = pytest.mark.slow


def test_generate_over_http_until_completed(tmp_path):
    state = tmp_path / "state"
    # Polling would exhaust the free plan's 10 requests a minute.
    with dev_server(state, {"PLAN_FREE_REQUESTS_PER_MINUTE": "1000"}) as base:
        register = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": "gen@example.com", "password": "correct horse battery", "name": "G"},
        )
        headers = {"Authorization": f"Bearer {register.json()['accessToken']}"}
        accepted = httpx.post(
            f"{base}/api/v1/generate",
            json={"prompt": "Create a function to reverse a string", "language": "python"},
            headers=headers,
        )
        assert accepted.status_code == 202
        status_url = base + accepted.json()["statusUrl"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = httpx.get(status_url, headers=headers)
            assert response.status_code == 200, response.text
            job = response.json()
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(0.25)
        assert job["status"] == "completed", job
        assert job["provider"] == "catalog" and job["capsuleId"].startswith("cap_")
        capsule = httpx.get(f"{base}/api/v1/capsules/{job['capsuleId']}", headers=headers)
        assert capsule.status_code == 200
        assert capsule.json()["capsule"]["source"] == "generated"
    lines = [json.loads(line) for line in read_log_lines(state) if line.startswith("{")]
    done = [line for line in lines if line.get("action") == "generation_complete"]
    assert done and done[0]["jobId"] == accepted.json()["jobId"]
