"""`GET /docs`: the interactive reference, rendered from /api/v1/openapi.json in a real
browser, "try it" against the same host with both security schemes."""

from __future__ import annotations

import json

from tests.browser.conftest import screenshot


def test_docs_page_renders_and_tries_calls_with_both_schemes(stack):
    seen = stack.drive(
        "docs",
        api=stack.api,
        apiKey=stack.api_key,
        accessToken=stack.access_token,
        capsuleId=stack.capsule_id,
        screenshot=screenshot("docs.png"),
    )
    assert seen["title"].startswith("DevCapsules API")
    assert seen["operations"] >= 25  # every operation of the document is listed
    assert seen["health"]["status"] == "200"
    assert json.loads(seen["health"]["body"])["status"] == "ok"
    # The dk_ key (apiKeyAuth) reads the published capsule; the JWT (bearerAuth) reads /me.
    assert seen["capsule"]["status"] == "200", seen["capsule"]
    assert json.loads(seen["capsule"]["body"])["capsule"]["id"] == stack.capsule_id
    assert seen["me"]["status"] == "200", seen["me"]
    sent = {r["url"].split("?")[0]: r["authorization"] for r in seen["requests"]}
    assert sent[f"{stack.api}/api/v1/capsules/{stack.capsule_id}"] == "Bearer dk_"
    assert sent[f"{stack.api}/api/v1/auth/me"].startswith("Bearer ey")
    # Self-hosted: every request stays on the API's own origin, and the page's policy
    # (public/_headers) let everything it needs run.
    assert all(r["url"].startswith(stack.api) for r in seen["requests"]), seen["requests"]
    assert seen["cspViolations"] == []
    assert seen["pageErrors"] == []
