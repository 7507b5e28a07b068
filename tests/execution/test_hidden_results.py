"""One view of a hidden test's result (`matching.shown_result`), whichever backend ran it."""

from __future__ import annotations

from devcapsules.executor.tests_harness import TestCaseResult as CaseResult
from devcapsules.matching import shown_result
from devcapsules.services.execution import piston

HIDDEN_VIEW = {"passed": False, "hidden": True, "error": "runtime error", "timeMs": 4}


def test_a_hidden_result_shows_the_same_fields_and_coarse_error_from_every_backend():
    sandbox = CaseResult(
        passed=False,
        actual=5,
        expected=3,
        error="ValueError: 3",
        time_ms=4,
        stdout="5",
        hidden=True,
        description="the secret case",
    ).as_dict()
    run = {"status": "internal_error", "stdout": "5", "stderr": "", "timeMs": 4}
    on_piston = piston._case_result({"expectedOutput": "3", "hidden": True}, run)
    assert sandbox == on_piston == HIDDEN_VIEW


def test_a_visible_result_is_shown_whole_and_limits_stay_named():
    visible = {"passed": True, "actual": 3, "expected": 3, "error": None, "timeMs": 1}
    assert shown_result(visible, hidden=False) is visible
    late = {**visible, "passed": False, "error": "time limit exceeded: the run ended"}
    assert shown_result(late, hidden=True)["error"] == "time limit exceeded"
