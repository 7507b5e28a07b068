"""Real credentials and real ids for the fuzzer, created through the public API.

Path parameters are pinned to these ids (see schemathesis.toml) so the fuzzer reaches
the handlers behind the 404s. Each destructive operation gets its own throwaway
resource: the DELETE of an API key must not revoke the credential the run uses, and
the DELETE of a capsule must not remove the one the reads, updates and reports hit, and
publish gets a draft that the fuzzed updates never rewrite; test runs by capsule id get a
published capsule that no operation is pointed at (tests/fuzz/hooks.py).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx

# The login credentials are the ones schemathesis.toml feeds to `POST /auth/login`.
_DICTIONARIES = tomllib.loads((Path(__file__).with_name("schemathesis.toml")).read_text())[
    "dictionaries"
]
EMAIL = _DICTIONARIES["login-email"]["values"][0]
PASSWORD = _DICTIONARIES["login-password"]["values"][0]
CAPSULE = {
    "title": "Sum two numbers",
    "language": "python",
    "problem": "Return a + b.",
    "starterCode": "def add(a, b):\n    pass\n",
    "solution": "def add(a, b):\n    return a + b\n",
    "functionName": "add",
    "testCases": [{"input": [1, 2], "expected": 3}, {"input": [-1, 1], "expected": 0}],
    "tags": ["math"],
    "visibility": "public",
}


def seed(base: str) -> dict[str, str]:
    """Environment variables the schemathesis config interpolates."""
    with httpx.Client(base_url=base, timeout=30) as client:
        session = _ok(
            client.post(
                "/api/v1/auth/register",
                json={"email": EMAIL, "password": PASSWORD, "name": "Fuzz"},
            )
        )
        client.headers["Authorization"] = f"Bearer {session['accessToken']}"
        capsule = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
        _ok(client.post(f"/api/v1/capsules/{capsule['id']}/publish"))
        doomed = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
        draft = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
        suite = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
        _ok(client.post(f"/api/v1/capsules/{suite['id']}/publish"))
        key = _ok(
            client.post("/api/v1/auth/api-keys", json={"name": "throwaway", "scopes": ["execute"]})
        )
        job = _ok(
            client.post(
                "/api/v1/generate", json={"prompt": "Reverse a string", "language": "python"}
            )
        )
    return {
        "FUZZ_TOKEN": session["accessToken"],
        "FUZZ_CAPSULE_ID": capsule["id"],
        "FUZZ_DOOMED_CAPSULE_ID": doomed["id"],
        "FUZZ_DRAFT_CAPSULE_ID": draft["id"],
        "FUZZ_SUITE_CAPSULE_ID": suite["id"],
        "FUZZ_API_KEY_ID": key["apiKey"]["id"],
        "FUZZ_JOB_ID": job["jobId"],
    }


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"seeding failed: {response.request.url} {response.text[:500]}")
    return response.json()
