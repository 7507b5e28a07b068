"""CPU time of this process and everything it starts, sandboxes included.

getrusage(RUSAGE_CHILDREN) counts only processes that were waited for, all the way up:
a sandbox ended by SIGKILL at its launcher's last report (sandbox._Reports) never reaps
its descendants, so their CPU would vanish. A cpuacct cgroup (cgroup v1, as root) counts
every process born inside it however it ends: this process joins a fresh one, and every
sandbox inherits it (a run's own cgroups are in the memory and pids hierarchies only).
Elsewhere: getrusage, and `exact` says the figures undercount.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
from pathlib import Path

_CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _join_own_cpuacct() -> Path | None:
    if os.geteuid() != 0 or not (_CPUACCT / "cpuacct.usage").exists():
        return None
    own = _CPUACCT / f"devcapsules-bench-{os.getpid()}"
    try:
        own.mkdir()
        (own / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    atexit.register(_leave, own)
    return own


def _leave(own: Path) -> None:
    with contextlib.suppress(OSError):
        (_CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        own.rmdir()


_own = _join_own_cpuacct()
exact = _own is not None


def cpu_s() -> float:
    """CPU seconds used so far by this process and its descendants."""
    if _own is not None:
        return int((_own / "cpuacct.usage").read_text()) / 1e9
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
