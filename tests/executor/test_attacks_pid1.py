"""The sandbox's pid 1 is out of the program's reach.

Whatever is pid 1 in the sandbox's pid namespace keeps the namespace alive: while it
lives, so does the run. Was it bubblewrap's own reaper (dumpable, the sandbox uid, outside
the run's cgroups and rlimits), a program could open /proc/1/mem for writing and run code
there: outside the memory, pids and CPU accounting, and able to clear its parent-death
signal and outlive the run. So pid 1 must be our own process (the cold stub's guardian,
the launcher, the batch harness's guardian), non-dumpable: every way in is refused.

Each probe runs cold and warm (pool_mode), in-process and under the launcher, and inside
a batch.
"""

import json

import pytest

from devcapsules.executor import sandbox
from devcapsules.executor.batch import run_batch
from devcapsules.executor.runner import execute

from .conftest import run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]

# Every way a same-uid process reaches another: /proc files that check ptrace access
# (mem of the process and of each of its threads, environ, maps, fds, map_files), and
# the system calls (ptrace, process_vm_writev). Prints one JSON object: what got in.
PROBE = r"""
import ctypes, errno, glob, json, os
got = {"pid": os.getpid(), "pid1": open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode()}
mems = ["/proc/1/mem", *sorted(glob.glob("/proc/1/task/*/mem"))]
for path in mems:
    for mode in (os.O_RDWR, os.O_WRONLY, os.O_RDONLY):
        try:
            os.close(os.open(path, mode))
            got[f"{path}:{mode}"] = "opened"
        except OSError as exc:
            pass
for path in ("/proc/1/environ", "/proc/1/maps", "/proc/1/syscall"):
    try:
        open(path, "rb").read()
        got[path] = "read"
    except OSError:
        pass
for path in ("/proc/1/fd", "/proc/1/map_files"):
    try:
        os.listdir(path)
        got[path] = "listed"
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(16, 1, None, None) == 0:  # PTRACE_ATTACH
    got["ptrace"] = "attached"
buf = ctypes.create_string_buffer(b"x")
local = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 1)
remote = (ctypes.c_void_p * 2)(0x10000, 1)
if libc.process_vm_writev(1, local, 1, remote, 1, 0) >= 0 or ctypes.get_errno() == errno.EFAULT:
    got["process_vm_writev"] = "reached"  # EFAULT: the access check passed, the address not
print(json.dumps(got))
"""


@pytest.fixture(params=["in-process", "launcher"])
def path(request, monkeypatch):
    """Cold Python runs skip the launcher where a run cgroup counts CPU: run the probe
    that way and, with that path switched off, under the launcher (JS, compiled, I/O)."""
    if request.param == "launcher":
        monkeypatch.setattr(sandbox, "in_process_python", lambda *_: False)
    return request.param


def reached(stdout: str) -> dict:
    found = json.loads(stdout)
    assert found.pop("pid") != 1, "the program itself is pid 1: the probe proves nothing"
    found.pop("pid1")
    return found


def test_a_program_cannot_reach_the_sandboxs_pid_1(path):
    result = run(execute(PROBE, "python", time_limit_s=5))
    assert result.status == "ok", (result.status, result.stderr)
    assert reached(result.stdout) == {}


def test_a_batch_program_cannot_reach_the_sandboxs_pid_1():
    (result,) = run(run_batch([PROBE], time_limit_s=5))
    assert result.status == "ok", (result.status, result.stderr)
    assert reached(result.stdout) == {}


def test_pid_1_is_not_bwraps_reaper(path):
    # bwrap's own init is the dumpable one; ours shows the interpreter that runs it.
    result = run(execute(PROBE, "python", time_limit_s=5))
    assert json.loads(result.stdout)["pid1"] != "bwrap", result.stdout
