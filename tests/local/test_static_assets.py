"""The local stand-in for Workers Static Assets: same paths, same headers as the edge."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest

from devcapsules.http import Headers
from devcapsules.local.config import load_config
from devcapsules.local.headers_file import HeadersFileError, apply_rules, parse_headers
from devcapsules.local.static_assets import AssetsConfig, StaticAssets
from devcapsules.routes import all_routes
from devcapsules.routing import compile_path
from tests.support.bindings import ROOT

PUBLIC = ROOT / "public"
# Headers that must be equal on the edge and locally (ETag and the edge's own
# bookkeeping headers are not reproduced locally).
COMPARED = (
    "location",
    "content-type",
    "cache-control",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)
PROBED_PATHS = [
    "/docs",
    "/docs/",
    "/docs.html",
    "/docs/index.html",
    "/docs/init.js",
    "/examples/widget",
    "/examples/widget.html",
    "/examples/widget/",
    "/examples/widget.html?mode=demo",
    "/examples/widget.js",
    "/vendor/swagger-ui/swagger-ui-bundle.js",
    "/vendor/swagger-ui/LICENSE",
    "/examples/",
    "/",
    "/_headers",
    "/health",
    "/api/v1/openapi.json",
    "/docs/../wrangler.toml",
]


@pytest.fixture(scope="module")
def assets() -> StaticAssets:
    config = load_config(ROOT).assets
    assert config is not None, "wrangler.toml has no [assets]"
    return StaticAssets(config)


def local_answer(assets: StaticAssets, target: str, method: str = "GET"):
    path, _, query = target.partition("?")
    return assets.answer(method, path, Headers(), query)


def test_docs_page_is_served_with_the_pages_policy(assets):
    response = local_answer(assets, "/docs")
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert b'src="/docs/init.js"' in response.body
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy


def test_non_canonical_paths_redirect_and_the_api_is_never_shadowed(assets):
    redirect = local_answer(assets, "/examples/widget.html?mode=demo")
    assert (redirect.status, redirect.headers["location"]) == (307, "/examples/widget?mode=demo")
    for path in ("/health", "/api/v1/openapi.json", "/_headers", "/", "/docs/../wrangler.toml"):
        assert local_answer(assets, path) is None, path
    assert assets.answer("POST", "/docs", Headers()) is None  # only GET/HEAD are assets


def test_head_has_the_headers_and_no_body(assets):
    response = local_answer(assets, "/docs", method="HEAD")
    assert response.status == 200 and response.body == b""
    assert int(response.headers["content-length"]) > 0


def test_no_asset_path_is_an_api_route():
    """Assets are served without the Worker: a file must never hide a route."""
    patterns = [compile_path(route.path) for route in all_routes()]
    for file in PUBLIC.rglob("*"):
        if not file.is_file():
            continue
        url = "/" + file.relative_to(PUBLIC).as_posix()
        for served in {url, url.removesuffix(".html"), url.removesuffix("index.html")}:
            assert not any(p.match(served) for p in patterns), f"{served} shadows a route"


def test_every_environment_serves_the_same_assets():
    data = tomllib.loads((ROOT / "wrangler.toml").read_text())
    assert data["assets"]["directory"] == "public"
    for name, section in data["env"].items():
        # Written out per environment, like the bindings, whatever wrangler inherits.
        assert section.get("assets") == data["assets"], f"[env.{name}.assets]"
        assert load_config(ROOT, name).assets == load_config(ROOT).assets


def test_headers_file_rules_combine_like_the_edge():
    rules = parse_headers("/*\n  X-A: one\n  Cache-Control: no-cache\n/docs\n  X-A: two\n  ! X-B\n")
    headers = Headers({"Cache-Control": "public", "X-B": "gone"})
    apply_rules(rules, "/docs", headers)
    assert headers["x-a"] == "one, two"
    assert headers["cache-control"] == "no-cache"  # the file replaces the default
    assert "x-b" not in headers


@pytest.mark.parametrize(
    "text",
    ["  X-A: 1\n", "https://example.com/*\n  X-A: 1\n", "/users/:id\n  X-A: 1\n", "/a\n/b\n  X: 1"],
)
def test_unsupported_headers_syntax_is_refused(text):
    with pytest.raises(HeadersFileError):
        parse_headers(text)


def test_unsupported_html_handling_is_refused():
    with pytest.raises(ValueError, match="html_handling"):
        AssetsConfig.from_wrangler(ROOT, {"directory": "public", "html_handling": "none"})


@pytest.mark.slow
@pytest.mark.parametrize("environment", ["", "staging", "production"])
def test_local_assets_answer_like_cloudflares_asset_worker(assets, environment):
    """Miniflare runs Cloudflare's asset worker over wrangler's reading of [assets]:
    every probed path gets the same status and headers from `devcapsules dev`."""
    probe = subprocess.run(
        ["node", "tools/miniflare/assets_probe.mjs", environment, *PROBED_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    edge = json.loads(probe.stdout)
    for path in PROBED_PATHS:
        local = local_answer(assets, path)
        if edge[path]["status"] == 299:  # the stand-in Worker answered: not an asset
            assert local is None, path
            continue
        assert local is not None, path
        assert local.status == edge[path]["status"], path
        expected = {k: v for k, v in edge[path]["headers"].items() if k in COMPARED}
        actual = {k: v for k, v in local.headers.items_list() if k in COMPARED}
        assert actual == expected, path


def _counting_lookups(assets: StaticAssets, monkeypatch) -> list[str]:
    looked_up: list[str] = []
    real = StaticAssets._file

    def counted(self, path):
        looked_up.append(path)
        return real(self, path)

    monkeypatch.setattr(StaticAssets, "_file", counted)
    return looked_up


def test_an_api_request_costs_no_file_lookup(monkeypatch):
    # Every API request asks the assets first; resolving its candidate files (x, x.html,
    # x/index.html) was ~130 µs of filesystem calls per /health.
    assets = StaticAssets(load_config(ROOT).assets)
    looked_up = _counting_lookups(assets, monkeypatch)
    for path in ("/health", "/api/v1/execute", "/api/v1/capsules/abc"):
        assert local_answer(assets, path) is None
    assert looked_up == []
    assert local_answer(assets, "/docs").status == 200 and looked_up  # assets still are


def test_a_file_added_while_the_host_runs_is_served(tmp_path):
    (tmp_path / "_headers").write_text("")
    assets = StaticAssets(AssetsConfig(directory=tmp_path))
    assert local_answer(assets, "/new") is None  # reads the top level
    (tmp_path / "new.html").write_text("<p>new</p>")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "page.txt").write_text("text")
    assert local_answer(assets, "/new").body == b"<p>new</p>"
    assert local_answer(assets, "/dir/page.txt").body == b"text"
    (tmp_path / "new.html").unlink()
    assert local_answer(assets, "/new") is None
