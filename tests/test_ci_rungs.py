"""`make test`'s rungs run in order on a fresh machine: a rung must not run tests whose
tools a later rung installs. Rung 1 on Python 3.13 is rung 1 again, so it leaves out what
rung 1 leaves out (the browser tests: `test-browser` installs Chromium first, after it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ignored(text: str) -> set[str]:
    return set(re.findall(r"--ignore=(\S+)", text))


def make_target(name: str) -> str:
    makefile = (ROOT / "Makefile").read_text()
    body = re.search(rf"^{name}:.*\n((?:\t.*\n|\s*#.*\n)+)", makefile, re.M)
    assert body is not None, name
    return body[1]


def test_rung_one_on_313_leaves_out_what_rung_one_does():
    rung_one = ignored(make_target("test-sqlite"))
    assert "tests/browser" in rung_one
    on_313 = ignored((ROOT / "scripts" / "test_py313.sh").read_text())
    assert rung_one <= on_313


def test_the_browser_rung_installs_chromium_before_its_tests():
    steps = make_target("test-browser")
    assert steps.index("ensure_chromium.sh") < steps.index("pytest")
