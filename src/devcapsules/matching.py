"""Equality rules for test results. They run on the trusted side, never in the sandbox,
and this module is pure Python so every backend (the sandbox library, Piston from the
Worker) applies the very same rules.

Function tests, `json_equal(actual, expected)` (both already parsed from JSON):
- null, booleans and strings compare exactly; a boolean never equals a number (true != 1).
- Numbers: two integers compare exactly. Otherwise they are equal when
  `math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)`, i.e.
  `|a - b| <= max(1e-9 * max(|a|, |b|), 1e-9)`; so 3 == 3.0 and 0.1 + 0.2 == 0.3.
  NaN equals NaN and infinities equal the same-signed infinity (JSON cannot carry them,
  but Python's json module reads NaN/Infinity, and a harness may send them).
- Arrays: same length and pairwise equal, in order (a returned tuple arrives as an array).
- Objects: the same set of keys and equal values under each key.

I/O tests, `output_equal(actual, expected)`: both texts are normalised, then compared
exactly. Normalising turns CRLF and CR into LF, removes trailing whitespace (spaces, tabs)
from every line and drops trailing empty lines; leading whitespace and blank lines inside
the text still count.

What a test result shows, `shown_result(result, hidden)`: everything for a visible test;
for a hidden one only whether it passed, a coarse error ("time limit exceeded", "memory
limit exceeded", "output limit exceeded" or "runtime error") and its time. Its expected
value, the code's output and its description never leave (every backend builds its
results through this one view).
"""

from __future__ import annotations

import math
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-9


def json_equal(actual: Any, expected: Any) -> bool:
    if _is_number(actual) and _is_number(expected):
        return _numbers_equal(actual, expected)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(json_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(json_equal(actual[k], expected[k]) for k in expected)
        )
    return type(actual) is type(expected) and actual == expected


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers_equal(a: float, b: float) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def normalise_output(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.rstrip(" \t\f\v") for line in lines]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)


def output_equal(actual: str, expected: str) -> bool:
    return normalise_output(actual) == normalise_output(expected)


COARSE_ERRORS = ("time limit exceeded", "memory limit exceeded", "output limit exceeded")


def coarse_error(error: str) -> str:
    """A hidden test's error: which limit it hit, or only that the code failed."""
    return next((known for known in COARSE_ERRORS if error.startswith(known)), "runtime error")


def shown_result(result: dict[str, Any], hidden: bool) -> dict[str, Any]:
    """A test result as the API shows it (`schemas.execution.TestResult`)."""
    if not hidden:
        return result
    error = result.get("error")
    return {
        "passed": result["passed"],
        "hidden": True,
        "error": None if error is None else coarse_error(error),
        "timeMs": result.get("timeMs", 0),
    }
