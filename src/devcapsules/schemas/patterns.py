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

# At least one visible character (a title, a hint).
NOT_BLANK = _NS
EMAIL = rf"^{_S}*[^@ \t\n\r\f\v]{{1,64}}@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]{{2,}}{_S}*$"
TAG = rf"^{_S}*[A-Za-z0-9][A-Za-z0-9+#._-]{{0,31}}{_S}*$"
IDENTIFIER = r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$"


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
