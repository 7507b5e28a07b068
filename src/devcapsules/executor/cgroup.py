"""A cgroup per run, so a run's limits hold for the run as a whole: memory across all its
processes, including tmpfs (/tmp) and memfd pages, which the kernel charges to the cgroup
of the process that touches them and which no rlimit counts; and its process count.

Where the host gives one (we are root, or own a delegated subtree):
- cgroup v1 with the `memory` and `pids` controllers: a directory in each, under this
  process's own cgroup (memory.limit_in_bytes, memory.memsw.limit_in_bytes where swap
  accounting exists, pids.max);
- cgroup v2, when this process's cgroup already delegates `memory` and `pids` to its
  children (cgroup.subtree_control): memory.max, memory.swap.max = 0, pids.max.

On v1 also a directory in `cpuacct`, where we may make one: it only counts (the run's CPU
time, every process, read from outside: what lets a Python run skip the launcher); v2
counts CPU in every cgroup (cpu.stat).

The user's process joins by writing "0" to a `cgroup.procs` descriptor this (root)
process opened and the launcher inherits (the kernel checks the opener's credentials);
its children are born inside. The launcher, bwrap and their memory stay outside: the
limit is the user's alone. On v1 that move used to wait for an RCU grace period (5-20
ms per run); cgroup_favor.py holds a `favordynmods` mount so it does not. An OOM kill
inside is reported as memory_limit_exceeded.

Without one: `fallback()` narrows the per-process limits so their sum is bounded (see
README, "Sandbox security": the bound is processes x (address space + open files x file
size) + tmp size, far above the limit: the gap is documented, not hidden).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import cgroup_favor

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PREFIX = "devcapsules-"
FALLBACK_PROCESSES = 32  # threads count too: a JVM needs ~20
FALLBACK_OPEN_FILES = 64
_counter = itertools.count()


@dataclass
class RunCgroup:
    """One run's cgroup (one directory per v1 hierarchy, or one v2 directory). Paths are
    plain strings: a run makes and removes one, and pathlib's joins were half of the
    host's Python work for it (16 joins, ~0.2 M instructions a run)."""

    dirs: list[str]
    procs: list[str]  # the cgroup.procs files the user's process writes "0" to: memory
    # first, then (v1) cpuacct, then pids
    peak_file: str
    events_file: str  # holds "oom_kill N"
    memory_files: list[str] = dataclasses.field(default_factory=list)  # limit, then memsw
    pids_file: str | None = None
    memory_bytes: int = 0  # the limit now
    fds: list[int] = dataclasses.field(default_factory=list)
    cpu_file: str | None = None  # v1 cpuacct.usage (ns) or v2 cpu.stat; None: not counted
    counting: int = 1  # the leading `procs` that charge or count (memory, CPU), not limit

    def set_limits(self, memory_bytes: int, processes: int) -> None:
        """Change the limits of a cgroup made in advance (a warm sandbox's), before its
        run starts. v1 wants memsw >= the memory limit at every step: lower the memory
        limit first, raise memsw first."""
        files = self.memory_files if memory_bytes <= self.memory_bytes else self.memory_files[::-1]
        for path in files:
            _write(path, memory_bytes)
        self.memory_bytes = memory_bytes
        if self.pids_file is not None:
            _write(self.pids_file, processes)

    @property
    def keeps_peak(self) -> bool:
        """Whether `peak_file` is a peak (v1, v2 memory.peak), not v2's memory.current."""
        return not self.peak_file.endswith("/memory.current")

    def open(self) -> list[int]:
        self.fds = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in self.procs]
        return self.fds

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []

    def usage(self) -> tuple[int, int]:
        """(peak memory in KiB, OOM kills) of the run so far."""
        try:
            peak = int(_read_small(self.peak_file).split()[0]) // 1024
        except (OSError, ValueError, IndexError):
            peak = 0
        kills = 0
        with contextlib.suppress(OSError, ValueError):
            for line in _read_small(self.events_file).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    kills = int(value)
        return peak, kills

    def cpu_ms(self) -> int | None:
        """CPU time of every process that was in the run, or None where the host does not
        count it (v1 without a cpuacct hierarchy we may use)."""
        if self.cpu_file is None:
            return None
        try:
            text = _read_small(self.cpu_file)
            if self.cpu_file.endswith("/cpu.stat"):  # v2: "usage_usec N" among others
                fields = dict(line.split(" ", 1) for line in text.splitlines())
                return int(fields["usage_usec"]) // 1000
            return int(text) // 1_000_000
        except (OSError, ValueError, KeyError):
            return None

    def try_remove(self) -> bool:
        """rmdir now; False if a directory is still busy."""
        for path in self.dirs:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return True

    async def remove(self, within_s: float = 5.0) -> None:
        """rmdir once the run's processes are gone (the kernel tears a pid namespace down
        asynchronously after its init dies, so an rmdir may briefly find it busy)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        for path in self.dirs:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if loop.time() > deadline:
                        log.warning("cgroup %s still busy; the next start-up sweeps it", path)
                        break
                    await asyncio.sleep(0.01)


@dataclass(frozen=True)
class _Hierarchy:
    version: str  # "v1" or "v2"
    memory: Path  # where run cgroups are created (v2: memory and pids are the same)
    pids: Path
    cpu: Path | None = None  # v1: a cpuacct hierarchy (v2 counts CPU in every cgroup)
    memsw: bool = False  # v1: swap accounting (memory.memsw.*), probed once, not per run

    def create(self, name: str, memory_bytes: int, processes: int) -> RunCgroup:
        if self.version == "v2":
            path = f"{self.memory}/{name}"
            os.mkdir(path)
            _write(f"{path}/memory.max", memory_bytes)
            if os.path.exists(f"{path}/memory.swap.max"):
                _write(f"{path}/memory.swap.max", 0)
            _write(f"{path}/pids.max", processes)
            peak = f"{path}/memory.peak"
            return RunCgroup(
                [path],
                [f"{path}/cgroup.procs"],
                peak if os.path.exists(peak) else f"{path}/memory.current",
                f"{path}/memory.events",
                [f"{path}/memory.max"],
                f"{path}/pids.max",
                memory_bytes,
                cpu_file=f"{path}/cpu.stat",
            )
        memory, pids = f"{self.memory}/{name}", f"{self.pids}/{name}"
        os.mkdir(memory)
        os.mkdir(pids)
        memory_files = [f"{memory}/memory.limit_in_bytes"]
        if self.memsw:  # no swapping past it
            memory_files.append(f"{memory}/memory.memsw.limit_in_bytes")
        for path in memory_files:
            _write(path, memory_bytes)
        _write(f"{pids}/pids.max", processes)
        group = RunCgroup(
            [memory, pids],
            [f"{memory}/cgroup.procs", f"{pids}/cgroup.procs"],
            f"{memory}/memory.max_usage_in_bytes",
            f"{memory}/memory.oom_control",
            memory_files,
            f"{pids}/pids.max",
            memory_bytes,
        )
        if self.cpu is not None:  # only counts: no CPU limit, RLIMIT_CPU is the limit
            cpu = f"{self.cpu}/{name}"
            os.mkdir(cpu)
            group.dirs.append(cpu)
            group.procs.insert(1, f"{cpu}/cgroup.procs")
            group.cpu_file = f"{cpu}/cpuacct.usage"
            group.counting = 2
        return group

    def bases(self) -> set[Path]:
        return {self.memory, self.pids} | ({self.cpu} if self.cpu else set())


def _write(path: str, value: int) -> None:
    # os-level: Path.write_text's text layer cost more than the write (six per cold run)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read_small(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)


@functools.cache
def hierarchy() -> _Hierarchy | None:
    """Where this host lets us make run cgroups (probed once), or None."""
    own = _own_cgroups()
    candidates = []
    if "" in own:
        base = ROOT / own[""].lstrip("/")
        delegated = _read(base / "cgroup.subtree_control").split()
        if {"memory", "pids"} <= set(delegated):
            candidates.append(_Hierarchy("v2", base, base))
    if "memory" in own and "pids" in own:
        memory = ROOT / "memory" / own["memory"].lstrip("/")
        pids = ROOT / "pids" / own["pids"].lstrip("/")
        candidates.append(_Hierarchy("v1", memory, pids))
    for candidate in candidates:
        if candidate.version == "v1":
            memsw = (candidate.memory / "memory.memsw.limit_in_bytes").exists()
            candidate = dataclasses.replace(candidate, memsw=memsw)
        if _probe(candidate):
            if candidate.version == "v1" and "cpuacct" in own:
                candidate = _with_cpuacct(candidate, own["cpuacct"])
            _sweep(candidate)
            atexit.register(_sweep, candidate, True)
            if candidate.version == "v1" and os.geteuid() == 0:
                cgroup_favor.hold()  # cheap moves: see cgroup_favor.py
            return candidate
    return None


def describe() -> str:
    found = hierarchy()
    return f"cgroup {found.version} (memory, pids)" if found else "no cgroup (rlimits only)"


def _own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path ("" is the v2 unified hierarchy)."""
    found = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            found[controller] = path
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _probe(candidate: _Hierarchy) -> bool:
    try:
        group = candidate.create(f"{PREFIX}probe-{os.getpid()}", 64 << 20, 8)
    except OSError:
        return False
    for path in group.dirs:
        with contextlib.suppress(OSError):
            os.rmdir(path)
    return True


def _with_cpuacct(found: _Hierarchy, own_path: str) -> _Hierarchy:
    """`found` plus the cpuacct hierarchy, when we may make cgroups in it (a run's CPU is
    then counted from the outside: see sandbox.py's in-process Python)."""
    cpu = ROOT / "cpuacct" / own_path.lstrip("/")
    probe = cpu / f"{PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return found
    return dataclasses.replace(found, cpu=cpu)


def new_run_cgroup(host_name: str, memory_mb: int, processes: int) -> RunCgroup | None:
    found = hierarchy()
    if found is None:
        return None
    name = f"{PREFIX}{host_name}-{next(_counter)}"
    return found.create(name, memory_mb << 20, processes)


def _sweep(found: _Hierarchy, ours_too: bool = False) -> None:
    """Remove (empty) run cgroups of hosts that are gone, whose scratch directory was
    swept; at exit (`ours_too`), any of this host's that a run left busy.

    Only cgroups older than `_SWEEP_GRACE_S`: a host whose scratch directory lives under
    another TMPDIR looks gone from here, and its run cgroup is empty for the moment
    between its mkdir and its process joining; removing it then fails that run (ENODEV
    on the join). A cgroup past the grace is either busy (rmdir refuses) or abandoned."""
    from . import hostdir

    live = hostdir.host_dir().name
    parents = [Path(base) for base in hostdir.bases()]
    for base in found.bases():
        for path in base.glob(f"{PREFIX}{hostdir.PREFIX}*"):
            host = path.name[len(PREFIX) :].rsplit("-", 1)[0]
            gone = not any((parent / host).exists() for parent in parents)
            if (ours_too and host == live) or (host != live and gone and _older_than_grace(path)):
                with contextlib.suppress(OSError):
                    path.rmdir()


_SWEEP_GRACE_S = 60.0


def _older_than_grace(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > _SWEEP_GRACE_S
    except OSError:
        return False


def fallback(limits):
    """Without a cgroup: fewer processes and open files, so the per-process limits bound
    the sum (memfds are files: RLIMIT_FSIZE caps each, RLIMIT_NOFILE their number)."""
    return dataclasses.replace(
        limits,
        max_processes=min(limits.max_processes, FALLBACK_PROCESSES),
        max_open_files=min(limits.max_open_files, FALLBACK_OPEN_FILES),
    )
