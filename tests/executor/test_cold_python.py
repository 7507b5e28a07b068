"""The Python path without a launcher (sandbox.in_process_python), cold and, where a test
takes `kind`, warm (a lean warm sandbox: warm.py): the program runs in the one
interpreter bwrap's `sh` execs, and how it ended comes from outside the sandbox only
(bwrap's --json-status-fd, the run cgroup's memory and CPU counters). Each test below is a
program trying to make its run look better than it was; it fails if the host believed
anything the program can write or reach."""

from __future__ import annotations

import signal

import pytest

from devcapsules.executor import cgroup, sandbox, warm
from devcapsules.executor.runner import classify, execute, workspace

from .conftest import restart_pool, run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


@pytest.fixture(autouse=True)
def cold_only():
    """Every run here cold: the warm pool has its own launcher and its own tests."""
    warm.configure({})
    found = cgroup.hierarchy()
    if found is None or (found.version == "v1" and found.cpu is None):
        pytest.skip("no run cgroup counting CPU here: Python keeps the launcher")


@pytest.fixture(params=["cold", "warm"])
def kind(request):
    """The test's runs cold, then in lean warm sandboxes (one ready for every run)."""
    pool = None
    if request.param == "warm":
        pool = restart_pool({"python": 1})
        assert all(idle.lean for idle in pool._idle["python"])
    yield request.param
    if pool is not None:
        assert pool.taken["python"] > 0  # the test's runs were warm ones
    warm.configure({})


def py(code: str, **kwargs):
    kwargs.setdefault("time_limit_s", 2)
    return run(execute(code, "python", **kwargs))


def sandboxed(code: str, cpu_time_s: int) -> sandbox.SandboxResult:
    """The program as execute() runs it, with a wall deadline far away: what is under
    test is the CPU count, not which limit a loaded machine reaches first."""
    limits = sandbox.SandboxLimits(wall_time_s=60, cpu_time_s=cpu_time_s)
    with workspace({"main.py": code}) as workdir:
        argv = [sandbox.SANDBOX_PYTHON, "main.py"]
        return run(sandbox.run_sandboxed(argv, workdir=workdir, limits=limits))


FAKE_STATUS = (
    '{ "exit-code": 0 }\\n{"exit_code": 0, "signal": null, "max_rss_kb": 1, "cpu_ms": 0}\\n'
    '{"done": true}\\n'
)


def test_the_program_is_the_sandboxs_first_process_with_nothing_else_open(kind):
    # Its parent is bwrap's init (pid 1), not a launcher; it holds stdio and nothing else.
    result = py("import os\nprint(os.getppid(), sorted(os.listdir('/proc/self/fd')))")
    assert result.status == "ok", result
    assert result.stdout == "1 ['0', '1', '2', '3']\n"  # 3: the listdir's own descriptor


def test_fake_status_written_everywhere_does_not_hide_a_kill(kind):
    code = (
        "import os, signal\n"
        f"fake = b'{FAKE_STATUS}'\n"
        "for fd in range(1024):\n"
        "    try:\n"
        "        os.write(fd, fake)\n"
        "    except OSError:\n"
        "        pass\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = py(code)
    assert (result.status, result.exit_code, result.signal) == (
        "runtime_error",
        None,
        signal.SIGKILL,
    ), result


def test_closing_and_duplicating_every_descriptor_does_not_change_the_outcome(kind):
    code = (
        "import os, signal\n"
        "os.dup2(1, 100)\n"
        "os.dup2(2, 1)\n"
        "os.closerange(0, 100)\n"
        "os.write(100, b'still here\\n')\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    result = py(code)
    assert result.stdout == "still here\n"
    assert (result.status, result.signal) == ("runtime_error", signal.SIGSEGV), result


def test_signalling_its_parent_does_not_end_the_run_early_or_as_ok(kind):
    # The parent is the pid namespace's init: the kernel drops these signals; the run
    # ends when the program does, with its own status.
    code = (
        "import os, signal, sys\n"
        "for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):\n"
        "    os.kill(os.getppid(), sig)\n"
        "print('after')\n"
        "sys.stdout.flush()\n"
        "os.kill(os.getpid(), signal.SIGABRT)\n"
    )
    result = py(code)
    assert result.stdout == "after\n"
    assert (result.status, result.signal) == ("runtime_error", signal.SIGABRT), result


def test_the_first_process_decides_the_outcome_not_a_child(kind, marker):
    # A child that exits 0 does not make a killed parent's run ok; a child left running
    # does not keep the run alive (it ends with the first process, and is killed).
    killed = py(
        "import os, signal\n"
        "if os.fork() == 0:\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert (killed.status, killed.signal) == ("runtime_error", signal.SIGKILL), killed
    left = py(
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])\n"
        "print('parent done')\n"
    )
    assert (left.status, left.stdout) == ("ok", "parent done\n"), left


def test_peak_memory_is_the_cgroups_even_when_freed_or_in_a_child(kind):
    parent = py("x = bytearray(64 << 20)\ndel x\n")
    child = py(
        "import os\nif os.fork() == 0:\n    x = bytearray(64 << 20)\n    os._exit(0)\nos.wait()\n"
    )
    for result in (parent, child):
        assert result.status == "ok", result
        assert result.memory_kb >= 64 * 1024, result


def test_cpu_time_is_counted_outside_even_when_sigxcpu_is_caught():
    # RLIMIT_CPU's SIGXCPU (at 1 s) is caught, the program burns on to 1.3 s (under the
    # 2 s hard limit) and exits 0: only the cgroup's count shows it ran past its limit.
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGXCPU, lambda *a: None)\n"
        "while time.process_time() < 1.3:\n"
        "    pass\n"
    )
    result = sandboxed(code, cpu_time_s=1)
    assert (result.exit_code, result.signal, result.timed_out) == (0, None, False), result
    assert result.cpu_ms >= 1300, result
    assert classify(result, time_limit_s=1, memory_limit_mb=256) == "time_limit_exceeded"


def test_cpu_of_every_process_counts():
    # Two processes, each under RLIMIT_CPU (per process), together past the limit. Each
    # burns 0.6 s: 0.4 s below the limit leaves room for the interpreter's start, which a
    # loaded machine makes dearer (0.8 s once met SIGXCPU there).
    code = (
        "import os, time\n"
        "def burn(seconds):\n"
        "    end = time.process_time() + seconds\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "child = os.fork()\n"
        "burn(0.6)\n"
        "if child == 0:\n"
        "    os._exit(0)\n"
        "os.waitpid(child, 0)\n"
    )
    result = sandboxed(code, cpu_time_s=1)
    assert (result.exit_code, result.signal, result.timed_out) == (0, None, False), result
    assert result.cpu_ms >= 1200, result
    assert classify(result, time_limit_s=1, memory_limit_mb=256) == "time_limit_exceeded"


def test_a_program_imitating_a_bwrap_error_is_its_own_runtime_error(kind):
    # Without bwrap's own record of the program's end, this stderr would read as a
    # sandbox that failed to start (internal_error, our fault).
    result = py("import sys\nprint('bwrap: Can\\'t mount proc', file=sys.stderr)\nsys.exit(1)")
    assert (result.status, result.exit_code) == ("runtime_error", 1), result


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/bin/python3", "main.py"], True),
        (["/usr/bin/python3", "-I", "/opt/dc/python_harness.py", "tests.json"], True),
        (["/usr/bin/python3", "-c", "print(1)"], False),
        (["/usr/bin/python3", "-I"], False),
        (["/usr/bin/node", "main.js"], False),
        (["./main"], False),
    ],
)
def test_which_runs_skip_the_launcher(argv, expected):
    group = cgroup.RunCgroup([], [], None, None, cpu_file=f"{cgroup.ROOT}/cpu.stat")
    assert sandbox.in_process_python(argv, group) is expected
    assert sandbox.in_process_python(argv, None) is False  # no cgroup: the launcher counts
    group.cpu_file = None
    assert sandbox.in_process_python(argv, group) is False


def test_stdio_is_what_a_launched_python_gets(kind):
    # fds 0 and 1 were cgroup descriptors while the interpreter started (sh joins through
    # them): the program still sees its stdin, and a pipe for stdout.
    code = (
        "import sys\n"
        "out = sys.stdout\n"
        "print(out.seekable(), out.name, out is sys.__stdout__, sys.stdin.read())\n"
    )
    result = py(code, stdin="in")
    assert result.stdout == "False <stdout> True in\n", result


def test_the_precompiled_stub_is_only_for_the_interpreter_that_compiled_it(tmp_path):
    other = tmp_path / "python3.99"
    other.symlink_to("/bin/true")
    assert sandbox._stub_script(sandbox.SANDBOX_PYTHON).endswith(".pyc")
    assert sandbox._stub_script(str(other)).endswith("warm_python.py")
