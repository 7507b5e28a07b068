"""The lean cold path (docs/execution.md, "The cold path"): what was cut from a cold run's set-up
changes nothing a program or the host's report can tell, except what it no longer pays
for. Speed itself is measured in bench/bench_execution.py, never asserted here."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import resource

import pytest

from devcapsules.executor import cgroup, hostdir, runner, sandbox, warm
from devcapsules.executor.languages import resolve
from devcapsules.executor.limits import DEFAULT_LIMITS
from devcapsules.executor.runner import execute, workspace

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]

LIMITS = ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")


@pytest.fixture
def cold_python():
    warm.configure({})
    found = cgroup.hierarchy()
    if found is None or (found.version == "v1" and found.cpu is None):
        pytest.skip("no run cgroup counting CPU here: Python keeps the launcher")


@pytest.mark.usefixtures("cold_python")
@pytest.mark.parametrize("dash", [True, False], ids=["sh-is-dash", "other-sh"])
def test_a_cold_program_gets_exactly_its_rlimits(dash, monkeypatch):
    # With dash, sh sets them (ulimit) and the stub loads no `resource` module a bare
    # `python3 main.py` would not have loaded; with another sh the stub sets them.
    monkeypatch.setattr(sandbox, "_sh_is_dash", lambda: dash)
    code = (
        "import sys\n"
        "print('resource' in sys.modules)\n"
        "import resource\n"
        f"for name in {LIMITS!r}:\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
    )
    result = run(execute(code, "python", time_limit_s=2, memory_limit_mb=64))
    assert result.status == "ok", result
    lines = result.stdout.splitlines()
    assert lines[0] == str(not dash)
    limits = runner._run_limits(resolve("python"), 2, 64, DEFAULT_LIMITS)
    expected = {which: (soft, hard) for which, soft, hard in limits.rlimits()}
    assert lines[1:] == [
        f"{name} {' '.join(map(str, expected[getattr(resource, name)]))}" for name in LIMITS
    ]
    assert expected[resource.RLIMIT_AS] == (64 << 20, 64 << 20)  # what was asked for


def test_limits_stay_with_the_stub_when_sh_is_not_dash(monkeypatch):
    # bash as sh reads `ulimit -p` as the pipe size: a run there would fail to start.
    monkeypatch.setattr(sandbox, "_sh_is_dash", lambda: False)
    assert sandbox._ulimit_commands([(resource.RLIMIT_NPROC, 64, 64)]) is None


def test_limits_sh_cannot_express_exactly_stay_with_the_stub():
    odd = [(resource.RLIMIT_FSIZE, 1000, 1000)]  # not whole 512-byte blocks
    assert sandbox._ulimit_commands(odd) is None
    both = [(resource.RLIMIT_CPU, 5, 6), (resource.RLIMIT_AS, 1 << 20, 1 << 20)]
    assert sandbox._ulimit_commands(both) == "ulimit -t 6 && ulimit -S -t 5 && ulimit -v 1024"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops to the sandbox uid")
def test_setpriv_is_given_names_that_map_back_to_the_sandbox_uid():
    # A number is looked up as a name first and misses /etc/passwd (NSS then loads its
    # next module on every run); the name is found at once and is the same identity.
    launch = sandbox._unprivileged(["bwrap"], "/opt/x/bwrap", ())
    if launch.identity:
        pytest.skip("no setpriv on this host")
    user = next(a for a in launch.argv if a.startswith("--reuid="))[len("--reuid=") :]
    group = next(a for a in launch.argv if a.startswith("--regid="))[len("--regid=") :]
    try:
        pwd.getpwuid(sandbox.SANDBOX_UID)
        grp.getgrgid(sandbox.SANDBOX_UID)
    except KeyError:
        assert (user, group) == (str(sandbox.SANDBOX_UID),) * 2
        return
    assert not user.isdigit() and not group.isdigit()
    assert pwd.getpwnam(user).pw_uid == sandbox.SANDBOX_UID
    assert grp.getgrnam(group).gr_gid == sandbox.SANDBOX_UID


def test_bwraps_status_records_are_read_at_the_end_even_with_a_writer_left():
    # Read once bwrap has ended; a descriptor still open elsewhere must not block it.
    async def scenario() -> bytes:
        read_end, write_end = os.pipe()
        os.write(write_end, b'{ "child-pid": 7 }\n{ "exit-code": 3 }\n')
        records = sandbox._StatusRecords(read_end, 1 << 20)
        records.collect()  # the write end is still open: no EOF, no wait either
        os.close(write_end)
        assert records.closed.done() and not records.finished.done()
        return records.data()

    data = asyncio.run(scenario())
    assert sandbox._bwrap_reports(sandbox._parse_reports(data))[0] == {
        "exit_code": 3,
        "signal": None,
    }


def test_run_directories_skip_a_name_that_exists(monkeypatch):
    runs = hostdir.host_dir() / "runs"
    taken = runs / f"run-{os.getpid()}-900001"
    taken.mkdir()
    try:
        monkeypatch.setattr(hostdir, "_run_numbers", iter([900001, 900002]))
        made = hostdir.new_run_dir()
        assert made == str(runs / f"run-{os.getpid()}-900002")
        assert os.stat(made).st_mode & 0o777 == 0o700
        os.rmdir(made)
    finally:
        taken.rmdir()


def test_a_workspace_is_owned_by_the_sandbox_uid_and_removed_whatever_it_holds():
    with workspace({"main.py": "x = 1\n", "pkg/mod.py": "y = 2\n"}) as workdir:
        with open(os.path.join(workdir, "left-by-a-compiler"), "w") as f:
            f.write("out")
        if os.geteuid() == 0:
            for path in ("", "main.py", "pkg", "pkg/mod.py"):
                assert os.stat(os.path.join(workdir, path)).st_uid == sandbox.SANDBOX_UID
        with open(os.path.join(workdir, "pkg/mod.py")) as f:
            assert f.read() == "y = 2\n"
    assert not os.path.exists(workdir)
