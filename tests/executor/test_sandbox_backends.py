import shutil

import pytest

from devcapsules.executor import execute, sandbox

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


@pytest.fixture
def hide_binaries(monkeypatch):
    """Pretend some isolation tools are not installed; restore detection afterwards."""
    real_which = shutil.which

    def hide(*names):
        monkeypatch.setattr(
            sandbox.shutil, "which", lambda n: None if n in names else real_which(n)
        )
        sandbox.detect_backend.cache_clear()

    yield hide
    sandbox.detect_backend.cache_clear()


def test_without_bwrap_unshare_is_used_with_a_warning(hide_binaries, caplog):
    hide_binaries("bwrap")
    assert sandbox.detect_backend().name == "unshare"
    assert "NOT isolated" in caplog.text
    result = run(execute("import os; print(os.getuid(), sorted(os.environ))", "python"))
    assert result.stdout == "65534 ['HOME', 'LANG', 'PATH', 'TMPDIR']\n"
    assert run(execute("while True: pass", "python", time_limit_s=1)).status == (
        "time_limit_exceeded"
    )


def test_without_any_sandbox_nothing_runs(hide_binaries):
    hide_binaries("bwrap", "unshare")
    with pytest.raises(sandbox.SandboxUnavailable, match="install bubblewrap"):
        run(execute("print(1)", "python"))
