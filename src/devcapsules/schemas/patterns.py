"""Text rules stated once, as regular expressions the OpenAPI document publishes and the
validators apply, so a client (or a fuzzer) reading the document knows what passes.

Whitespace is spelled out as ASCII (`[ \\t\\n\\r\\f\\v]`) instead of `\\s`: the document's
readers use other regex engines (ECMA-262, Rust) whose `\\s` differs from Python's on a
few control and Unicode characters, and the rule must mean the same everywhere.
"""

from __future__ import annotations

import re
from typing import Any

SPACE = " \t\n\r\f\v"
_S = r"[ \t\n\r\f\v]"
_NS = r"[^ \t\n\r\f\v]"
# Control characters (C0 with NUL, DEL, C1): never part of an identifier, a name or a
# title (they hide text in logs and terminals, and NUL truncates strings in C code).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
# A line's text runs from a visible character to a visible one. The classes around it
# are disjoint, so a regex engine never backtracks more than linearly.
_VISIBLE = rf"[^ {_CONTROL}]"
_TEXT = rf"{_VISIBLE}(?:[^{_CONTROL}]*{_VISIBLE})?"

# One line of text without control characters (surrounding ASCII whitespace is trimmed):
# a name. VISIBLE_LINE also needs a visible character: a title.
ONE_LINE = rf"^{_S}*(?:{_TEXT})?{_S}*$"
VISIBLE_LINE = rf"^{_S}*{_TEXT}{_S}*$"
EMAIL = rf"^{_S}*[^@ {_CONTROL}]{{1,64}}@[^@ {_CONTROL}]+\.[^@ {_CONTROL}]{{2,}}{_S}*$"
TAG = rf"^{_S}*[A-Za-z0-9][A-Za-z0-9+#._-]{{0,31}}{_S}*$"
IDENTIFIER = r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$"
# Ids a client names (capsules, analytics events and sessions).
ID = r"^[A-Za-z0-9_.:\-]+$"


def at_least_visible(count: int) -> str:
    """`count` or more characters from the first visible one to the last (after trimming)."""
    return _NS if count <= 1 else rf"{_NS}[\s\S]{{{count - 2},}}{_NS}"


def documented(pattern: str) -> dict[str, Any]:
    """`json_schema_extra` for a rule a validator applies (pydantic's own `pattern` runs in
    Rust, whose classes differ from Python's; the validator uses `matches` below)."""
    return {"pattern": pattern}


def matches(pattern: str, value: str) -> bool:
    # JSON Schema patterns are unanchored: search, as the document's readers do. A final
    # `$` is Python's `\Z`: Python's `$` also matches before a trailing newline, ECMA's not.
    if pattern.endswith("$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None
