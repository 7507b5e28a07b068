"""Real-browser tests: a real `devcapsules dev` (own state dir, dynamic port), two
loopback static sites serving public/ as a widget author's site would (one listed in
ALLOWED_ORIGINS, one not), and Debian's headless Chromium driven by playwright-core.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ROOT, dev_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "correct horse battery"
SOLUTION = "def add(a, b):\n    return a + b\n"
# Right on the first test only: one visible failure and a failing hidden test.
WRONG = "def add(a, b):\n    return abs(a) + b if b < 10 else 0\n"
CAPSULE = {
    "title": "Add two numbers",
    "description": "Return the sum of a and b.",
    "problem": "Write add(a, b) that returns a + b.\n\nExample: add(1, 2) == 3",
    "language": "python",
    "difficulty": "easy",
    "functionName": "add",
    "starterCode": "def add(a, b):\n    pass\n",
    "solution": SOLUTION,
    "testCases": [
        {"input": [1, 2], "expected": 3, "description": "small numbers"},
        {"input": [-1, 1], "expected": 0, "description": "opposite signs"},
        {"input": [20, 22], "expected": 42, "hidden": True},
    ],
    "visibility": "unlisted",
}
WIDGET_SCOPES = ["capsules:read", "execute", "analytics:write"]
# The owner's calls (the widget's included: a key acts for its owner) would otherwise
# race the free plan's 10 requests a minute; rate limits have their own tests.
UNLIMITED = {
    "PLAN_FREE_REQUESTS_PER_MINUTE": "unlimited",
    "PLAN_FREE_REQUESTS_PER_DAY": "unlimited",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """A plain static server on a free loopback port: another origin than the API."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Stack:
    api: str
    widget_site: str  # in ALLOWED_ORIGINS
    other_site: str  # not in ALLOWED_ORIGINS
    access_token: str
    api_key: str
    capsule_id: str

    def drive(self, scenario: str, **options: Any) -> dict[str, Any]:
        return drive(scenario, **options)

    def create_key(self, scopes: list[str]) -> str:
        response = httpx.post(
            f"{self.api}/api/v1/auth/api-keys",
            json={"name": "limited", "scopes": scopes},
            headers={"Authorization": f"Bearer {self.access_token}"},
        )
        assert response.status_code == 201, response.text
        return response.json()["key"]

    def report(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api}/api/v1/analytics/capsules/{self.capsule_id}",
            headers={"Authorization": f"Bearer {self.access_token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()


def drive(scenario: str, **options: Any) -> dict[str, Any]:
    """Run one scenario of drive.mjs in a fresh headless Chromium; its observations."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does)")
    payload = json.dumps({"scenario": scenario, **options})
    process = subprocess.run(
        ["node", "tests/browser/drive.mjs", payload],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert process.returncode == 0, f"{scenario} failed:\n{process.stderr[-4000:]}"
    return json.loads(process.stdout)


def screenshot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


def _setup_account(api: str) -> tuple[str, str, str]:
    """Owner, published capsule and widget key, all through the real API."""
    client = httpx.Client(base_url=api, timeout=60)
    body = {"email": "author@example.com", "password": PASSWORD, "name": "Author"}
    token = client.post("/api/v1/auth/register", json=body).json()["accessToken"]
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/capsules", json=CAPSULE, headers=auth)
    assert created.status_code == 201, created.text
    capsule_id = created.json()["capsule"]["id"]
    published = client.post(f"/api/v1/capsules/{capsule_id}/publish", headers=auth)
    assert published.status_code == 200, published.text
    key = client.post(
        "/api/v1/auth/api-keys", json={"name": "widget", "scopes": WIDGET_SCOPES}, headers=auth
    )
    assert key.status_code == 201, key.text
    return token, key.json()["key"], capsule_id


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    if shutil.which("node") is None:
        pytest.fail("node is required for the browser tests")
    state = tmp_path_factory.mktemp("browser") / "state"
    public = ROOT / "public"
    with (
        static_site(public) as widget_site,
        static_site(public) as other_site,
        dev_server(state, {"ALLOWED_ORIGINS": widget_site, **UNLIMITED}) as api,
    ):
        token, key, capsule_id = _setup_account(api)
        yield Stack(api, widget_site, other_site, token, key, capsule_id)
