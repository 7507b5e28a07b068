"""The local host over real HTTP: what `make dev` serves."""

import json

import httpx
import pytest

from tests.support.bindings import backend
from tests.support.server import dev_server, read_log_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("host") / "state"
    with dev_server(state) as base:
        yield base, state


def test_health_over_http(server):
    base, _ = server
    response = httpx.get(f"{base}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")


def test_deep_health_over_http_with_real_bindings(server):
    base, _ = server
    response = httpx.get(f"{base}/health", params={"deep": "true"})
    assert response.status_code == 200
    assert all(check["ok"] for check in response.json()["checks"].values())


def test_unknown_route_is_json_404(server):
    base, _ = server
    response = httpx.get(f"{base}/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_oversized_body_is_413_over_http(server):
    base, _ = server
    response = httpx.post(f"{base}/health", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413


def test_cors_preflight_over_http(server):
    base, _ = server
    response = httpx.options(
        f"{base}/health",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_logs_are_json_lines_with_request_ids(server):
    base, state = server
    httpx.get(f"{base}/health", headers={"X-Request-Id": "trace-e2e-0001"})
    lines = [json.loads(line) for line in read_log_lines(state) if line.startswith("{")]
    assert any(
        line.get("requestId") == "trace-e2e-0001" and line["action"] == "request" for line in lines
    )
    started = next(line for line in lines if line["action"] == "dev_server_started")
    assert started["bindings"] == backend()
    if backend() == "sqlite":  # on Miniflare, wrangler itself applies the migrations
        assert any(line["action"] == "migrations_applied" for line in lines)


def test_restart_keeps_state_and_the_dev_secret(tmp_path):
    state = tmp_path / "state"
    with dev_server(state):
        secret = json.loads((state / "dev-secrets.json").read_text())["JWT_SECRET"]
    with dev_server(state) as base:
        assert httpx.get(f"{base}/health?deep=1").status_code == 200
    assert json.loads((state / "dev-secrets.json").read_text())["JWT_SECRET"] == secret
    assert len(secret) >= 32


def test_static_pages_are_served_before_the_app_with_their_own_headers(server):
    """`devcapsules dev` serves public/ like Workers Static Assets: /docs with the pages'
    policy from public/_headers, while the API's answers keep `default-src 'none'`."""
    base, _ = server
    page = httpx.get(f"{base}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "x-request-id" not in page.headers  # the app never saw it
    bundle = httpx.get(f"{base}/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000  # make install's copy
    redirect = httpx.get(f"{base}/examples/widget.html")
    assert (redirect.status_code, redirect.headers["location"]) == (307, "/examples/widget")
    api = httpx.get(f"{base}/health")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert httpx.get(f"{base}/_headers").status_code == 404
