"""Return values of any shape: a verdict for that test, never a host failure.

User code decides what its function returns, and so what the host parses: each shape
here used to make the host raise (RecursionError in json.loads, NaN in the response) or
answer with a vague or oversized result."""

from __future__ import annotations

import json
import logging

import pytest

from devcapsules.executor import returned
from devcapsules.executor.tests_harness import run_tests

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]


def one_test(code: str, expected=None):
    cases = [{"input": [], "expected": expected}, {"input": [], "expected": expected}]
    return run(run_tests(code, cases, "python", "f", time_limit_s=2))


def assert_verdict(result, prefix: str, words: str) -> None:
    assert result.status == "failed", (result.status, result.error)
    for test in result.tests:
        assert test.passed is False
        assert test.error.startswith(prefix) and words in test.error, test.error
    json.dumps([t.as_dict() for t in result.tests], allow_nan=False)  # sendable as JSON


def test_a_990_deep_list_is_a_runtime_error_not_an_internal_error(caplog):
    code = "def f():\n    v = []\n    for _ in range(990):\n        v = [v]\n    return v\n"
    with caplog.at_level(logging.WARNING):
        result = one_test(code)
    assert_verdict(result, "runtime error", "nests 991 levels deep")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_nan_and_infinity_are_named(caplog):
    result = one_test("def f():\n    return [float('nan'), 1]\n", expected=[1, 1])
    assert_verdict(result, "runtime error", "contains NaN")
    result = one_test("def f():\n    return float('inf')\n", expected=1)
    assert_verdict(result, "runtime error", "contains Infinity")


def test_a_number_too_long_for_int_is_a_runtime_error():
    # The sandbox's own Python refuses to print such an int too, so the harness must send
    # the digits itself: user code writes the record on fd 3 (it can, it shares the fd).
    code = (
        "import os\n"
        "def f():\n"
        "    digits = '9' * 5000\n"
        "    for i in range(2):\n"
        '        line = \'{"index": %d, "actual_json": "%s", "error": null}\\n\' % (i, digits)\n'
        "        os.write(3, line.encode())\n"
        "    return 0\n"
    )
    result = one_test(code)
    assert_verdict(result, "runtime error", "cannot be read as JSON")


def test_an_enormous_string_is_an_output_limit_verdict():
    result = one_test("def f():\n    return 'a' * 400_000\n")
    assert_verdict(result, "output limit exceeded", "at most 262144 are compared")


def test_a_results_flood_past_the_channel_cap_is_output_limit_exceeded():
    code = "import os\ndef f():\n    while True:\n        os.write(3, b'x' * 65536)\n"
    result = one_test(code)
    assert result.status == "output_limit_exceeded"
    assert "before this test completed" in result.error


def test_a_deeply_nested_line_written_to_the_channel_is_ignored():
    code = "import os\ndef f():\n    os.write(3, b'[' * 100000 + b'\\n')\n    return 1\n"
    result = one_test(code, expected=1)
    assert result.status == "passed"


def test_nesting_depth_counts_brackets_outside_strings_only():
    assert returned.nesting_depth('[{"a": "[[[["}, [1, [2]]]') == 3
    assert returned.nesting_depth('"\\"[["') == 0
