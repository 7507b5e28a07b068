"""A run is held to its memory limit as a whole: all its processes, tmpfs and memfd
pages (which no rlimit counts), through a cgroup per run where the host has one."""

from __future__ import annotations

import dataclasses

import pytest

from devcapsules.executor import cgroup, execute, hostdir
from devcapsules.executor.sandbox import SandboxLimits
from devcapsules.executor.tests_harness import run_tests

from .conftest import run, warm_cgroup_dirs

pytestmark = [pytest.mark.usefixtures("sandbox", "pool_mode"), pytest.mark.slow]


@pytest.fixture
def run_cgroups():
    if cgroup.hierarchy() is None:
        pytest.skip("this host gives no cgroup (see test_the_fallback_narrows_rlimits)")
    return cgroup.hierarchy()


FORK_AND_MEMFD = """
import os
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        held = bytearray(150 * 1024 * 1024)  # each child under its own RLIMIT_AS
        fds = []
        for _ in range(20):  # and 320 MB of memfds, which RLIMIT_AS does not see
            fd = os.memfd_create("x")
            os.write(fd, b"a" * (16 * 1024 * 1024 - 1))
            fds.append(fd)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("ok")
"""


def test_forked_children_with_memfds_are_memory_limit_exceeded(run_cgroups):
    result = run(execute(FORK_AND_MEMFD, "python", memory_limit_mb=256, time_limit_s=10))
    assert result.status == "memory_limit_exceeded", (result.status, result.memory_kb)
    assert result.memory_kb <= 256 * 1024


def test_memfds_of_one_process_count(run_cgroups):
    code = (
        "import os\nfds = []\nfor _ in range(40):\n"
        "    fd = os.memfd_create('x')\n    os.write(fd, b'a' * (16 * 1024 * 1024 - 1))\n"
        "    fds.append(fd)\nprint('held 640 MB')\n"
    )
    result = run(execute(code, "python", memory_limit_mb=64, time_limit_s=10))
    assert result.status == "memory_limit_exceeded"


def test_tmpfs_pages_count(run_cgroups):
    code = "open('/tmp/fill', 'wb').write(b'a' * (56 * 1024 * 1024))\nprint('wrote 56 MB')\n"
    result = run(execute(code, "python", memory_limit_mb=32, time_limit_s=10))
    assert result.status == "memory_limit_exceeded", (result.status, result.stderr[-300:])


def test_memory_kb_is_the_whole_runs_peak(run_cgroups):
    code = (
        "import os\nfor _ in range(3):\n    if os.fork() == 0:\n"
        "        x = bytearray(40 * 1024 * 1024)\n        os._exit(0)\n    os.wait()\n"
        "kept = [bytearray(40 * 1024 * 1024) for _ in range(2)]\nprint('ok')\n"
    )
    result = run(execute(code, "python", memory_limit_mb=256, time_limit_s=10))
    assert result.status == "ok"
    assert result.memory_kb >= 80 * 1024  # the parent's 80 MB at least, children's too


def test_an_io_test_that_bursts_the_run_limit_names_it(run_cgroups):
    code = (
        "import os, sys\nif sys.stdin.read() == 'bomb':\n    fds = []\n    while True:\n"
        "        fd = os.memfd_create('x'); os.write(fd, b'a' * (1 << 24)); fds.append(fd)\n"
        "print('fine')\n"
    )
    cases = [
        {"stdin": "calm", "expectedOutput": "fine"},
        {"stdin": "bomb", "expectedOutput": "fine"},
    ]
    result = run(run_tests(code, cases, "python", memory_limit_mb=64, time_limit_s=5))
    assert [t.passed for t in result.tests] == [True, False]
    assert result.tests[1].error == "memory limit exceeded"


def test_run_cgroups_are_removed_after_each_run(run_cgroups):
    mine = f"{cgroup.PREFIX}{hostdir.host_dir().name}-"

    def present() -> set:
        return {str(p) for base in run_cgroups.bases() for p in base.glob(f"{mine}*")}

    before = present()  # (a cancelled run's may still be draining: not this test's)
    assert run(execute("print(1)", "python")).status == "ok"
    assert present() - before - warm_cgroup_dirs() == set()  # the refill's are idle


def test_the_fallback_narrows_rlimits_so_their_sum_is_bounded():
    narrowed = cgroup.fallback(dataclasses.replace(SandboxLimits(), max_processes=128))
    assert narrowed.max_processes == cgroup.FALLBACK_PROCESSES
    assert narrowed.max_open_files == cgroup.FALLBACK_OPEN_FILES
