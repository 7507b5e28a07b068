"""Keep the runtimes' own code in memory, out of every run's memory limit and reclaim.

A run's memory cgroup is charged for each page-cache page its processes bring in first,
and the cgroup's reclaim, at its limit, evicts pages charged to it. When an interpreter's
image is not in the page cache as a run starts (host memory pressure evicted it; or
nothing outside a run has executed that part of it yet), the run faults the image in and
is charged for it. At its limit, the kernel then reclaims the interpreter code the program
is executing; the program faults it straight back in, and round again: seconds of
thrashing before the OOM kill, when there is no other page to take. Measured (node,
/usr/bin/node evicted before each run): a heap bomb under a 64 MB limit ended as
time_limit_exceeded in 3 of 10 runs and took 1.7-6.4 s in the others, instead of 0.2 s.

So the host maps each runtime's executable and shared libraries read-only and locks them
(mlock; as root, CAP_IPC_LOCK): faulted in once by the host, charged to the host's cgroup,
and never reclaimed. A run's reclaim then finds only the run's own memory, and the OOM
killer ends it at once. The run's limit loses nothing: it never meant to count the
runtime's shared code (charged to whichever process read it first), only what the run
allocates. The cost is the images' size in locked memory, shared with the page cache,
once per host (node 94 MiB, python 6.5 MiB, the libraries a few MiB). Where mlock is
refused (an unprivileged host, RLIMIT_MEMLOCK), the files are only read in (charged to
the host, but evictable under memory pressure): logged once.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import subprocess
import threading

log = logging.getLogger(__name__)

_PROT_READ, _MAP_SHARED, _MADV_DONTFORK = 1, 1, 10
_MAP_FAILED = ctypes.c_void_p(-1).value
_pinned: dict[str, int] = {}  # realpath -> bytes locked (0: read in only)
_lock = threading.Lock()  # discovery probes languages from a thread pool
_warned = threading.Event()


def keep(binary: str) -> None:
    """Lock `binary` and the shared libraries it loads in memory, once per process."""
    for path in _image_files(binary):
        with _lock:  # claimed here, locked outside: the languages' probes run in parallel
            if path in _pinned:
                continue
            _pinned[path] = 0
        _pinned[path] = _pin(path)


def _image_files(binary: str) -> list[str]:
    """The executable and the libraries the dynamic loader resolves for it (ldd: the
    host's own toolchain, trusted; the sandbox binds the same files)."""
    files = [os.path.realpath(binary)]
    try:
        listed = subprocess.run(
            ["ldd", binary], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return files
    for line in listed.splitlines():
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-... (0x...)"
        words = line.replace("=>", " ").split()
        path = next((w for w in words if w.startswith("/")), None)
        if path is not None and os.path.isfile(path):
            files.append(os.path.realpath(path))
    return list(dict.fromkeys(files))


def _pin(path: str) -> int:
    """Map `path` read-only for good and lock it; bytes locked, 0 if only read in."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        log.warning("cannot keep %s in memory: %s", path, exc)
        return 0
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        libc = _libc()
        address = libc.mmap(None, size, _PROT_READ, _MAP_SHARED, fd, 0)
        if address in (None, _MAP_FAILED):
            return _read_in(fd, path, ctypes.get_errno())
        # Children need none of it (a fork would copy the mapping, never the lock).
        libc.madvise(address, size, _MADV_DONTFORK)
        if libc.mlock(address, size) != 0:
            errno = ctypes.get_errno()
            libc.munmap(address, size)
            return _read_in(fd, path, errno)
        return size  # mapped and locked until this process exits
    finally:
        os.close(fd)


def _read_in(fd: int, path: str, errno: int) -> int:
    _warn_unlocked(path, os.strerror(errno))
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
    return 0


def _warn_unlocked(path: str, why: str) -> None:
    if not _warned.is_set():  # once: the first file that fails says it for all
        _warned.set()
        log.warning(
            "cannot lock %s in memory (%s): runtimes' code stays evictable, and a run at "
            "its memory limit may thrash before its OOM kill",
            path,
            why,
        )


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    for name in ("mlock", "munmap"):
        getattr(libc, name).argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc
