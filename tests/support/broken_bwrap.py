"""A bwrap that cannot create namespaces (as on a host that forbids user namespaces), put
first on PATH so the sandbox picks it over the bundled one. Shared by the executor and
HTTP tests that prove code is then refused, never run with weaker isolation."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from devcapsules.executor import sandbox

FAKE_BWRAP = """#!/bin/sh
if [ "$1" = --version ]; then echo "bubblewrap 0.11.0"; exit 0; fi
echo "bwrap: setting up uid map: Permission denied" >&2
exit 1
"""


@contextlib.contextmanager
def broken_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # World-traversable (bwrap runs as the sandbox uid), unlike pytest's 0700 tmp_path.
    directory = tempfile.mkdtemp(prefix="dc-broken-bwrap-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "bwrap")
    with open(path, "w") as f:
        f.write(FAKE_BWRAP)
    os.chmod(path, 0o755)
    monkeypatch.setenv("PATH", f"{directory}:{os.environ.get('PATH', '')}")
    sandbox.detect_sandbox.cache_clear()
    try:
        yield path
    finally:
        monkeypatch.undo()
        sandbox.detect_sandbox.cache_clear()
        shutil.rmtree(directory, ignore_errors=True)
