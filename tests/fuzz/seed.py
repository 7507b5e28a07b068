"""Real credentials and real ids for the fuzzer, created through the public API.

Path parameters are pinned to these ids (see schemathesis.toml) so the fuzzer reaches
the handlers behind the 404s. Each destructive operation gets its own throwaway
resource: the DELETE of an API key must not revoke the credential the run uses, and
the DELETE of a capsule must not remove the one the reads, updates and reports hit.
"""

from __future__ import annotations

import httpx

PASSWORD = "fuzzing password 1"
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
                json={"email": "fuzz@example.com", "password": PASSWORD, "name": "Fuzz"},
            )
        )
        client.headers["Authorization"] = f"Bearer {session['accessToken']}"
        capsule = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
        _ok(client.post(f"/api/v1/capsules/{capsule['id']}/publish"))
        doomed = _ok(client.post("/api/v1/capsules", json=CAPSULE))["capsule"]
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
        "FUZZ_API_KEY_ID": key["apiKey"]["id"],
        "FUZZ_JOB_ID": job["jobId"],
    }


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"seeding failed: {response.request.url} {response.text[:500]}")
    return response.json()
