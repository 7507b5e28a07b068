"""Decode a function's return value as the harness reported it (JSON text written by
untrusted code) into a value the host can compare and send back, whatever its shape.

The text is user output: it may nest a thousand levels deep (the host's `json.loads`
and `json.dumps` recurse, and would raise RecursionError), hold NaN or Infinity (valid
for Python's json, not for JSON, and never equal to any expected value), numbers with
more digits than int() accepts, or megabytes of string. Each becomes a verdict for that
one test, with a message, and never an exception of the host's.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100  # arrays/objects inside one another; far above any exercise's answer
MAX_BYTES = 256 * 1024  # of JSON text per returned value
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class Unreadable(ValueError):
    """The value cannot be compared; the message starts with the verdict's name."""


def decode(text: Any) -> Any:
    """The value, or Unreadable("runtime error: ..." / "output limit exceeded: ...")."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise Unreadable("runtime error: the harness sent an unreadable value")
    if len(text) > MAX_BYTES:
        raise Unreadable(
            f"output limit exceeded: the return value is {len(text)} bytes of JSON; "
            f"at most {MAX_BYTES} are compared"
        )
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise Unreadable(
            f"runtime error: the return value nests {depth} levels deep; "
            f"at most {MAX_DEPTH} can be compared"
        )
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except Unreadable:
        raise
    except ValueError as exc:  # incl. ints past sys.get_int_max_str_digits()
        raise Unreadable(
            f"runtime error: the return value cannot be read as JSON ({exc})"
        ) from None
    except RecursionError:  # bounded above; kept so no shape can ever escape as a crash
        raise Unreadable("runtime error: the return value nests too deeply") from None


def nesting_depth(text: str) -> int:
    """Deepest array/object nesting of JSON text, without recursing (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise Unreadable(
        f"runtime error: the return value contains {name}, which JSON cannot represent"
    )
