"""Read a Workers Static Assets `_headers` file and apply it to a path, as the edge does.

The subset we implement locally (anything else is refused when the file is read, so
the local host can never silently serve other headers than the edge):
- `#` comments and blank lines;
- a rule is a path line starting with `/` (`*` matches any run of characters, a splat),
  followed by indented `Name: value` lines and `! Name` lines (remove a header);
- every matching rule applies, in file order: the first rule to name a header replaces
  the default, a later one appends `, value`; `! Name` removes it.
Not supported here: absolute-URL rules (`https://host/...`) and `:placeholder` segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from devcapsules.http import Headers

# The edge's limits (Workers Static Assets): more rules, or longer lines, are ignored there.
MAX_RULES = 100
MAX_LINE_LENGTH = 2000
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class HeadersFileError(ValueError):
    """The `_headers` file uses syntax the local host does not implement, or is invalid."""


@dataclass
class HeaderRule:
    pattern: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    unset: list[str] = field(default_factory=list)

    def matches(self, path: str) -> bool:
        regex = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return re.fullmatch(regex, path) is not None


def read_headers_file(path: Path) -> list[HeaderRule]:
    return parse_headers(path.read_text()) if path.is_file() else []


def parse_headers(text: str) -> list[HeaderRule]:
    rules: list[HeaderRule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_LINE_LENGTH:
            raise HeadersFileError(f"line {number}: longer than {MAX_LINE_LENGTH} characters")
        if not raw[0].isspace():
            rules.append(_rule(line, number))
        elif not rules:
            raise HeadersFileError(f"line {number}: a header before any path")
        else:
            _add_header(rules[-1], line, number)
    if len(rules) > MAX_RULES:
        raise HeadersFileError(f"{len(rules)} rules: the edge applies at most {MAX_RULES}")
    empty = [rule.pattern for rule in rules if not rule.headers and not rule.unset]
    if empty:
        raise HeadersFileError(f"rules without headers: {', '.join(empty)}")
    return rules


def _rule(line: str, number: int) -> HeaderRule:
    if not line.startswith("/"):
        raise HeadersFileError(f"line {number}: only path rules (/...) are supported locally")
    if re.search(r"/:[A-Za-z]", line):
        raise HeadersFileError(f"line {number}: :placeholders are not supported locally")
    return HeaderRule(line)


def _add_header(rule: HeaderRule, line: str, number: int) -> None:
    if line.startswith("!"):
        rule.unset.append(line[1:].strip())
        return
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _HEADER_NAME.match(name) or not value:
        raise HeadersFileError(f"line {number}: expected 'Name: value' or '! Name'")
    rule.headers.append((name, value))


def apply_rules(rules: list[HeaderRule], path: str, headers: Headers) -> None:
    """Apply every rule matching `path` to `headers` (a response's defaults), in order."""
    named: set[str] = set()
    for rule in rules:
        if not rule.matches(path):
            continue
        for name in rule.unset:
            headers.remove(name)
        for name, value in rule.headers:
            key = name.lower()
            if key in named:
                headers.set(name, f"{headers[name]}, {value}")
            else:
                headers.set(name, value)
                named.add(key)
