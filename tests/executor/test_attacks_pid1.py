"""The sandbox's pid 1 is out of the program's reach.

pid 1 in the sandbox's pid namespace is bubblewrap's reaper: the sandbox uid, dumpable,
outside the run's cgroups and rlimits, and the run lives as long as it does (its
parent-death signal ends the namespace). Could a program open /proc/1/mem for writing
(it could, before), code run there would escape the memory, pids and CPU accounting and
could clear that signal and outlive the run. Every way in must be refused.

Each probe runs cold and warm (pool_mode), in-process and under the launcher, and inside
a batch.
"""

import json

import pytest

from devcapsules.executor import sandbox, warm
from devcapsules.executor.batch import run_batch
from devcapsules.executor.runner import execute

from .conftest import restart_pool, run

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]

# Every way a same-uid process reaches another: /proc files that check ptrace access
# (mem of the process and of each of its threads, environ, maps, fds, map_files), and
# the system calls (ptrace, process_vm_writev). Prints one JSON object: what got in.
PROBE = r"""
import ctypes, errno, glob, json, os
got = {"pid": os.getpid()}
if os.listdir("/proc/1"):
    got["/proc/1"] = "listed"
mems = ["/proc/1/mem", "/proc/self/../1/mem", *sorted(glob.glob("/proc/1/task/*/mem"))]
proc = os.open("/proc", os.O_RDONLY)
try:
    os.close(os.open("1/mem", os.O_RDWR, dir_fd=proc))
    got["1/mem from a /proc descriptor"] = "opened"
except OSError:
    pass
for path in mems:
    for mode in (os.O_RDWR, os.O_WRONLY, os.O_RDONLY):
        try:
            os.close(os.open(path, mode))
            got[f"{path}:{mode}"] = "opened"
        except OSError:
            pass
for path in ("/proc/1/environ", "/proc/1/maps", "/proc/1/syscall", "/proc/1/cmdline"):
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
    """Python runs, cold and warm, skip the launcher where a run cgroup counts CPU: run
    the probe that way and, with that path switched off (the warm pool restarted with
    it), under the launcher (JS, compiled, I/O)."""
    if request.param == "launcher":
        monkeypatch.setattr(sandbox, "in_process_python", lambda *_: False)
        if warm.pool() is not None:
            restart_pool()
            assert not any(idle.lean for idle in warm.pool()._idle["python"])
    return request.param


def reached(stdout: str) -> dict:
    found = json.loads(stdout)
    assert found.pop("pid") != 1, "the program itself is pid 1: the probe proves nothing"
    return found


def test_a_program_cannot_reach_the_sandboxs_pid_1(path):
    result = run(execute(PROBE, "python", time_limit_s=5))
    assert result.status == "ok", (result.status, result.stderr)
    assert reached(result.stdout) == {}


def test_a_batch_program_cannot_reach_the_sandboxs_pid_1():
    (result,) = run(run_batch([PROBE], time_limit_s=5))
    assert result.status == "ok", (result.status, result.stderr)
    assert reached(result.stdout) == {}
