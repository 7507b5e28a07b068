"""A run is held to its memory limit as a whole: all its processes, tmpfs and memfd
pages (which no rlimit counts), through a cgroup per run where the host has one."""

from __future__ import annotations

import ctypes
import dataclasses
import mmap
import os

import pytest

from devcapsules.executor import cgroup, execute, hostdir
from devcapsules.executor.languages import discover
from devcapsules.executor.sandbox import SandboxLimits
from devcapsules.executor.tests_harness import run_tests

from .conftest import require_language, run, warm_cgroup_dirs

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


JS_HEAP_BOMB = "const a = []; while (true) a.push(new Array(1e6).fill(1.5));"


def test_a_heap_bomb_is_killed_at_once_after_the_host_evicted_nodes_code(run_cgroups):
    """Host memory pressure drops node's code from the page cache; a run then faulted it
    back in charged to itself and, at its limit, had the code it was executing reclaimed
    and faulted in again, round and round: seconds of it, then time_limit_exceeded
    (resident.py). The host keeps the runtimes' code locked, so the eviction takes
    nothing and the OOM kill comes at once."""
    require_language("javascript")
    if os.geteuid() != 0:  # mlock needs CAP_IPC_LOCK (resident.py only warns without it)
        pytest.skip("only a root host may keep the runtimes' code locked")
    node = discover()["javascript"].run_cmd[0]
    for _ in range(3):
        _evict(node)
        assert _resident_pages(node) == _pages(node)
        result = run(execute(JS_HEAP_BOMB, "javascript", time_limit_s=5, memory_limit_mb=64))
        assert result.status == "memory_limit_exceeded", (result.status, result.signal)


# 16 MB of arrays, a quarter of the limit, then an uncaught exception: node's RSS (70 MB)
# counts its own shared code (~40 MB), which the run's cgroup does not.
JS_THROWS_HOLDING_16_MB = (
    "const held = [new Array(1e6).fill(1.5), new Array(1e6).fill(2.5)];\n"
    "throw new Error('boom ' + held.length);\n"
)


def test_a_javascript_error_under_its_memory_limit_is_a_runtime_error(run_cgroups):
    require_language("javascript")
    result = run(execute(JS_THROWS_HOLDING_16_MB, "javascript", memory_limit_mb=64))
    assert result.status == "runtime_error", (result.status, result.memory_kb)
    assert "boom 2" in result.stderr
    assert result.memory_kb <= 64 * 1024  # the run's peak, as its limit counts it


def test_a_javascript_io_test_erroring_under_its_memory_limit_is_a_runtime_error(run_cgroups):
    require_language("javascript")
    cases = [{"stdin": "", "expectedOutput": "fine"}]
    result = run(run_tests(JS_THROWS_HOLDING_16_MB, cases, "javascript", memory_limit_mb=64))
    assert result.tests[0].error == "runtime error (exit code 1)"


def _evict(path: str) -> None:
    """What host memory pressure does to a file's unlocked, unmapped page-cache pages."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _pages(path: str) -> int:
    return -(-os.path.getsize(path) // mmap.PAGESIZE)


def _resident_pages(path: str) -> int:
    """How many of the file's pages are in the page cache (mincore on a mapping of it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, *[ctypes.c_int] * 3, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size, pages = os.path.getsize(path), _pages(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    finally:
        os.close(fd)
    vector = ctypes.create_string_buffer(pages)
    try:
        assert libc.mincore(address, size, vector) == 0, os.strerror(ctypes.get_errno())
    finally:
        libc.munmap(address, size)
    return sum(byte & 1 for byte in vector.raw)
