"""The one scratch directory of a host process: the sandbox support files and every run's
work directory live under it, so nothing is left behind.

Layout: `BASE/devcapsules-host-XXXX/` (0755: bwrap runs as the sandbox uid and must
traverse it) with `support/` (harness files, a synthetic /etc/passwd, maybe a copy of
bwrap) and `runs/run-PID-N/` (one per run, owned by the sandbox uid, removed after it).

BASE is $TMPDIR when it is set (an explicit choice), else /dev/shm when that is a roomy
tmpfs we may write and execute from, else the system's temporary directory. Why a tmpfs:
every run makes and removes its directory and writes its program there, and on a disk
file system those are journaled metadata updates (measured on this host's ext4, mounted
with `discard`: mkdir + chown + create + unlink + rmdir ~475 us of wall and ~163 us of
CPU a run, the rmdir alone ~330 us; on tmpfs ~69 and ~41 us). Roomy: a container's
default /dev/shm (64 MB) could fill with a few compiled runs' binaries, so less than
`TMPFS_ROOM_BYTES` free keeps the disk.

The owner holds an exclusive `flock` on `.lock` for as long as it lives; the kernel drops
it however the process ends (SIGKILL included). So a directory whose lock can be taken
belongs to a dead host, and the next host to start sweeps it: no pid files, no reuse
races, and other hosts running on the same machine are never touched. A normal exit
removes the directory (atexit).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import itertools
import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "devcapsules-host-"
_LOCK = ".lock"
_UNLOCKED_GRACE_S = 60.0  # a directory without a lock file: another host is creating it


@functools.cache
def host_dir() -> Path:
    """This process's directory, created (after sweeping dead hosts' ones) on first use."""
    swept = sweep()
    if swept:
        log.info("removed %d sandbox directories left by hosts that died", swept)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base_dir()))
    lock = os.open(root / _LOCK, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    root.chmod(0o755)
    for name in ("support", "runs"):
        (root / name).mkdir(mode=0o755)
        (root / name).chmod(0o755)  # whatever the umask
    atexit.register(_remove, root, os.getpid())
    return root


def new_run_dir() -> str:
    """A fresh, private (0700) directory for one run, under this host's `runs/`.

    Named by pid and a counter, not mkdtemp's random name (0.1 ms of Python a run):
    `runs/` is this host's, 0755 and root's, so nobody else can make a name in it first;
    the pid keeps a forked child's names apart, and an existing name is skipped."""
    runs = os.path.join(host_dir(), "runs")
    while True:
        path = os.path.join(runs, f"run-{os.getpid()}-{next(_run_numbers)}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


_run_numbers = itertools.count()


def support_root() -> Path:
    return host_dir() / "support"


SHM = "/dev/shm"
TMPFS_ROOM_BYTES = 1 << 30
MOUNTS = "/proc/self/mounts"


def base_dir() -> str:
    """Where this host's directory goes (see the module's docstring)."""
    if os.environ.get("TMPDIR") or not _roomy_tmpfs(SHM):
        return tempfile.gettempdir()
    return SHM


def bases() -> list[str]:
    """Every directory a host of this machine may have used (the sweeps look in each)."""
    return list(dict.fromkeys([tempfile.gettempdir(), SHM]))  # base_dir() is one of them


def _roomy_tmpfs(path: str) -> bool:
    try:
        found = os.statvfs(path)
    except OSError:
        return False
    if found.f_flag & (os.ST_RDONLY | os.ST_NOEXEC):  # noexec: compiled runs exec from it
        return False
    if found.f_bavail * found.f_frsize < TMPFS_ROOM_BYTES:
        return False
    return os.access(path, os.W_OK | os.X_OK) and _mounted_as(path) == "tmpfs"


def _mounted_as(path: str) -> str | None:
    """The file system type of the mount at `path` (the last one mounted there wins)."""
    kind = None
    with contextlib.suppress(OSError), open(MOUNTS) as table:
        for line in table:
            fields = line.split()
            if len(fields) > 2 and fields[1] == path:
                kind = fields[2]
    return kind


def sweep(parent: str | None = None) -> int:
    """Remove the directories of hosts that are no longer running; returns how many."""
    removed = 0
    for base in [parent] if parent else bases():
        for candidate in Path(base).glob(f"{PREFIX}*"):
            if candidate.is_dir() and _abandoned(candidate):
                shutil.rmtree(candidate, ignore_errors=True)
                removed += not candidate.exists()
    return removed


def _abandoned(root: Path) -> bool:
    try:
        fd = os.open(root / _LOCK, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            return time.time() - root.stat().st_mtime > _UNLOCKED_GRACE_S
        return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its host is alive
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return True


def unwind_on_sigterm() -> None:
    """Make SIGTERM end the process like Ctrl-C does (SystemExit: finally blocks and
    atexit run, so the directory goes). Call from the main thread before serving:
    uvicorn restores this handler after its graceful shutdown and re-raises the signal,
    which with the default action would kill the process before atexit."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _remove(root: Path, owner_pid: int) -> None:
    # A forked child inherits atexit handlers: only the creating process removes.
    if os.getpid() == owner_pid:
        shutil.rmtree(root, ignore_errors=True)
