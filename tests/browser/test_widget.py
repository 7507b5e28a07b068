"""The embed widget served from another origin than the API: through CORS with a `dk_`
key it shows the capsule, runs its tests, shows failures for a wrong answer, and its
view and runs reach the capsule's analytics. An origin not in ALLOWED_ORIGINS is
refused by the browser itself."""

from __future__ import annotations

from tests.browser.conftest import SOLUTION, WRONG, screenshot


def widget_options(stack, site: str, name: str) -> dict:
    return {
        "site": site,
        "api": stack.api,
        "apiKey": stack.api_key,
        "capsuleId": stack.capsule_id,
        "wrongCode": WRONG,
        "rightCode": SOLUTION,
        "screenshot": screenshot(name),
    }


# The stack (server, capsule) is shared by this module and tests run in file order: the
# analytics test comes first, so the later tests' events do not reach its report.


def test_widget_runs_a_capsule_cross_origin_and_reports_analytics(stack):
    seen = stack.drive("widget", **widget_options(stack, stack.widget_site, "widget.png"))
    loaded = seen["loaded"]
    assert loaded["title"] == "Add two numbers"
    assert "returns a + b" in loaded["problem"]
    assert loaded["code"] == "def add(a, b):\n    pass\n"  # the starter code

    wrong = seen["wrong"]
    assert wrong["summary"] == "1 of 3 tests passed"
    assert [r["passed"] for r in wrong["results"]] == [True, False, False]
    hidden = wrong["results"][2]
    assert hidden["hidden"] and hidden["text"] == "failed Hidden test 3"  # pass/fail only
    assert "expected 0, got 2" in wrong["results"][1]["text"]

    right = seen["right"]
    assert right["summary"] == "3 of 3 tests passed"
    assert all(r["passed"] for r in right["results"])

    # Every API call went cross-origin with the key and the learner's session.
    calls = [r for r in seen["requests"] if r["url"].startswith(stack.api)]
    assert {r["authorization"] for r in calls if r["method"] != "OPTIONS"} == {"Bearer dk_"}
    sessions = {r["sessionId"] for r in calls if r["method"] == "POST"}
    assert len(sessions) == 1 and None not in sessions
    assert seen["pageErrors"] == [] and "analyticsError" not in seen["completed"]

    report = stack.report()
    assert report["views"] == 1
    assert report["testRuns"] == 2 and report["testRunsPassed"] == 1
    assert report["completions"] == 1 and report["uniqueSessions"] == 1


def test_an_origin_not_allowed_is_refused_by_the_browser(stack):
    seen = stack.drive("refused", **widget_options(stack, stack.other_site, "widget-refused.png"))
    assert seen["direct"] == {"ok": False, "error": "TypeError: Failed to fetch"}
    assert seen["shown"]["state"] == "error"
    assert "origin not allowed" in seen["shown"]["errorText"]
    assert any("blocked by CORS policy" in line for line in seen["console"]), seen["console"]


def test_a_key_without_the_execute_scope_is_refused_and_the_widget_says_so(stack):
    key = stack.create_key(["capsules:read", "analytics:write"])
    options = widget_options(stack, stack.widget_site, "widget-no-execute.png")
    seen = stack.drive("runOnce", **{**options, "apiKey": key})
    shown = seen["run"]
    assert shown["results"] == [] and shown.get("passed") is None
    assert "(403)" in shown["error"] and "insufficient_scope" in shown["error"]
    assert "execute" in shown["errorText"]


def test_the_widget_example_served_by_the_api_host_runs_under_its_policy(stack):
    """Same origin as the API, so public/_headers' CSP applies (connect-src 'self')."""
    options = widget_options(stack, stack.api, "widget-same-origin.png")
    seen = stack.drive("runOnce", **options)
    assert seen["run"]["summary"] == "3 of 3 tests passed"
    assert seen["cspViolations"] == [] and seen["pageErrors"] == []
    # /examples/widget.html redirected to the canonical /examples/widget (the fragment,
    # with the settings, survives the redirect: the run above used it).
    assert f"{stack.api}/examples/widget" in {r["url"] for r in seen["requests"]}
