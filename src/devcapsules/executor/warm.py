"""Warm sandboxes: a sandbox started before its run, used for exactly one run, destroyed.

What a cold run pays on the request path (bwrap building the namespaces and mounts, the
cgroup moves of the user's process, which on cgroup v1 wait for an RCU grace period, and
the interpreter's start) a warm sandbox has paid in advance: bwrap is up with the same
options as a cold run and the user's process has joined the run's cgroups and is blocked
waiting for its run on a socket from the host. Two kinds:

- lean (Python, where the run cgroup counts CPU: what a cold run needs to skip the
  launcher too): bwrap starts `sh`, which joins the counting cgroups as for a cold run
  and execs the pre-started interpreter (`harness/warm_python.py --warm`), which joins
  the others and waits. One interpreter per sandbox. How the run ended comes from
  outside, as for a cold in-process run: the exit status from bwrap's status pipe, peak
  memory and CPU from the cgroup (the CPU includes the interpreter's start, as a
  launcher's rusage of its child did).
- the warm launcher's (every other interpreted language, and Python elsewhere): the
  launcher forks the user's process, which joins the cgroups and (Python) execs the same
  stub or waits itself, then execs the run's argv; the launcher reports its end.

The isolation is a cold run's, unchanged: each warm sandbox has its own fresh work
directory (empty until its run; the host writes the program into it just before), its own
tmpfs, pid namespace and cgroup, and the run's rlimits are applied before the program
starts. After the one run the whole sandbox is killed (before the answer) and reaped,
its directory and cgroup removed (after it: `WarmSandbox._teardown`, which the run's
executor slot waits for, `lingering`); nothing of it is ever handed out again
(`WarmSandbox.run` refuses a second call).

Who takes one (`taken()`): `execute()` of an interpreted language, `run_tests()` function
tests (the harness is the program; its results pipe is made at hand-over and travels
with the stdin descriptor) and `run_batch()` (the batch harness is the program).

Prepared sandboxes: a Python sandbox may also be started for one of our support scripts
(the test or batch harness): its stub loads that script's imports while waiting, so the
run pays only the program. Only the runs of that script get one first; a plain program
never does (the harness's ~50 stdlib modules would add their teardown, ~4 ms, to its
exit). Which kinds a language keeps idle follows demand: when a run finds only the other
kind it takes that one (still correct, just unprepared) and the pool's mix shifts one
slot to the kind that was asked for, which the refill then starts.

Ready: a sandbox is in the pool once its bwrap is spawned, its start over only once its
stub (or the launcher's child) has sent one byte on the host's socket, just before it
waits for the run. `take()` hands out ready ones first (a run given one still starting
waits for the rest of its start) and `fill_and_wait()` returns once the idle ones are
ready; one handed its run before that still runs it.

The pool (`EXECUTOR_WARM_POOL`, e.g. `python=2,javascript=1`) keeps that many idle per
language, refills in a thread once a used sandbox is gone, and is drained at exit
(atexit: the host's shutdown): every idle sandbox killed, reaped, its directory and
cgroup removed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import logging
import marshal
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

from . import cgroup, hostdir, sandbox
from .languages import Language, discover, resolve
from .limits import DEFAULT_LIMITS, Limits

log = logging.getLogger(__name__)


class WarmPoolConfigError(ValueError):
    """EXECUTOR_WARM_POOL is not `lang=N,...` with known languages and N >= 0."""


def parse_sizes(raw: str | None) -> dict[str, int]:
    """`python=2,javascript=1` -> {"python": 2, "javascript": 1}; "" or "0" -> {}."""
    sizes: dict[str, int] = {}
    for entry in (raw or "").split(","):
        entry = entry.strip()
        if not entry or entry == "0":
            continue
        name, sep, count = entry.partition("=")
        if not sep or not name.strip() or not count.strip().isdigit():
            raise WarmPoolConfigError(f"EXECUTOR_WARM_POOL entry {entry!r} is not lang=N")
        sizes[name.strip().lower()] = int(count)
    return {name: n for name, n in sizes.items() if n > 0}


@dataclass(frozen=True)
class _Shape:
    """What a warm sandbox fixes at start (bwrap's options); a run may use it only if its
    own match. Everything else of the run's limits (cgroup memory and pids, rlimits,
    wall time, output caps) is applied when the run is handed over."""

    language: str
    tmp_size_mb: int
    prepared: str | None = None  # the support script its stub has loaded, if any


class WarmSandbox:
    """One pre-started sandbox; `run()` once, then it is gone."""

    def __init__(self, lang: Language, limits: Limits, prepared: str | None = None) -> None:
        self.lang = lang
        self.shape = _Shape(lang.name, limits.tmp_size_mb, _prepared(lang, prepared))
        self._used = False
        self._ready = False  # its stub's READY seen (or its end: take() drops dead ones)
        self._streams: dict = {}
        self._gone: asyncio.Task | None = None  # the teardown after a run that ended well
        base = limits.sandbox(
            time_limit_s=limits.max_time_limit_s,
            address_space_mb=None,
            memory_mb=limits.max_memory_limit_mb,
        )
        self.workdir = hostdir.new_run_dir()
        if os.geteuid() == 0:
            os.chown(self.workdir, sandbox.SANDBOX_UID, sandbox.SANDBOX_UID)
        self.group = cgroup.new_run_cgroup(
            hostdir.host_dir().name, base.memory_mb, base.max_processes
        )
        self.lean = _lean(lang, self.group)
        self.pipes = sandbox._Pipes(False, self.group.open() if self.group else [])
        self.control, box_end = socket.socketpair()
        try:
            self.proc = self._start(base, box_end.fileno())
        except BaseException:
            self.destroy()
            raise
        finally:
            box_end.close()
            if self.group is not None:
                self.group.close()  # the launcher holds its own copies

    def _start(self, base: sandbox.SandboxLimits, box_fd: int) -> subprocess.Popen:
        """bwrap with a cold run's options; inside, the lean stub (`self.lean`: sh joins
        the counting cgroups on its stdin and stdout, bwrap reports the end on the status
        pipe) or the warm launcher, which forks the process that waits for the run."""
        if self.lean:
            early = self.group.counting
            argv = sandbox.lean_warm_argv(
                self.lang.run_cmd[0], self.pipes.cgroup_fds, early, box_fd, self.shape.prepared
            )
            stdin = self.pipes.cgroup_fds[0]
            stdout = self.pipes.cgroup_fds[1] if early > 1 else subprocess.DEVNULL
            status_fd = self.pipes.report_w
        else:
            argv = sandbox.launcher_argv(self._launcher_spec(box_fd))
            stdin, stdout, status_fd = subprocess.DEVNULL, subprocess.PIPE, None
        bwrap = sandbox.detect_sandbox()
        with sandbox._command(
            bwrap,
            argv,
            workdir=self.workdir,
            writable=False,
            limits=base,
            mounts=self.lang.mounts,
            env={},
            status_fd=status_fd,
        ) as launch:
            proc = sandbox._start(launch, stdin, self.pipes, (box_fd,), stdout)
        self.pipes.close_child_ends()
        self.pipes.cgroup_fds = []
        return proc

    def _launcher_spec(self, box_fd: int) -> dict:
        return {
            "warm": True,
            "control_fd": box_fd,
            "report_fd": self.pipes.report_w,
            "cgroup_fds": self.pipes.cgroup_fds,
            "prestart": _prestart(self.lang, self.shape.prepared),
        }

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ready(self, timeout_s: float = 0.0) -> bool:
        """Whether its start is over (the interpreter, or the launcher's child, waits for
        the run and has said so on the control socket), waiting up to `timeout_s`. A
        sandbox taken before that makes its run wait for the rest of its start: a
        prepared Python one's is ~30-40 ms, more than a cold run's."""
        if not self._ready and not self._used:
            with contextlib.suppress(OSError, ValueError):  # closed: handed over meanwhile
                self._ready = bool(select.select([self.control], [], [], timeout_s)[0])
        return self._ready

    def when_gone(self, then) -> None:
        """Call `then` once this sandbox is destroyed (now, or after its teardown)."""
        if self._gone is None or self._gone.done():
            then()
        else:
            self._gone.add_done_callback(lambda _task: then())

    async def run(
        self,
        files: dict[str, str],
        argv: list[str],
        stdin: bytes,
        limits: sandbox.SandboxLimits,
        results_channel: bool = False,
    ) -> sandbox.SandboxResult:
        """`results_channel`: a fresh pipe made for this run becomes the program's fd 3
        (function-test harnesses), as in a cold run_sandboxed."""
        if self._used:
            raise RuntimeError("a warm sandbox runs exactly one program")
        self._used = True
        ended_well = False
        try:
            self._write(files)
            if self.group is not None:
                self.group.set_limits(limits.memory_mb << 20, limits.max_processes)
            else:
                limits = cgroup.fallback(limits)
            message = marshal.dumps({"argv": list(argv), "limits": limits.rlimits()})
            with _RunPipes(results_channel) as run_pipes:
                result, ended_well = await self._follow(message, stdin, limits, run_pipes)
            if self.group is not None:
                sandbox.measure_memory(result, self.group)
            if self.lean:  # no launcher to report it: the cgroup counted the process
                result.cpu_ms = sandbox._cgroup_cpu_ms(self.group)
        finally:
            if ended_well:
                self._gone = _linger(self._teardown())
                self._gone.add_done_callback(self._given_up)
            else:
                self.destroy()
        sandbox._check_setup(result)
        return result

    async def _follow(
        self, message: bytes, stdin: bytes, limits: sandbox.SandboxLimits, run_pipes: _RunPipes
    ) -> tuple[sandbox.SandboxResult, bool]:
        """Hand the run over and watch it: (its result, whether it ended well, i.e. the
        launcher reported the program's end, or, lean, bwrap's monitor wrote its exit
        code: both only once the program was reaped). The run's own stdout, stderr (and
        results) pipes reach only the program, at hand-over: their EOF says its output is
        complete once it and whatever it started are done with them, without waiting for
        the sandbox's launcher, pid 1 and bwrap to die (they hold only bwrap's stderr,
        for set-up errors, and pid 1 holds it until the pid namespace is torn down). What
        is left of a run that ended well is killed before the answer and reaped after it
        (`_teardown`, in the run's slot)."""
        loop = asyncio.get_running_loop()
        killer = sandbox._Killer(self.proc.pid)
        streams = _watch(loop, self.proc, self.pipes, run_pipes, limits, killer, self.lean)
        self._streams = streams
        started = time.monotonic()
        self._hand_over(message, stdin, run_pipes.child_ends())
        run_pipes.close_child_ends()
        finished = streams["report"].finished
        ended_well = await _until_reported(self.proc.pid, limits.wall_time_s, killer, finished)
        killer.kill()  # whatever the program left behind dies now, before the answer
        if ended_well:
            await sandbox._drain({name: streams[name] for name in run_pipes.names})
            streams["setup"].read_now()  # written before the hand-over: no wait for EOF
            status = (0, None)  # unused: the last record has the program's status
        else:  # killed (deadline, flood) or the sandbox failed: everything to its end
            status = await sandbox._wait(self.proc.pid, limits.wall_time_s, killer, finished)
            self.proc.returncode = -1
            await sandbox._drain(streams)
        wall_ms = int((time.monotonic() - started) * 1000)
        result = sandbox._result(status, streams, killer, wall_ms, status_from_bwrap=self.lean)
        # bwrap's, the launcher's or the stub's own messages before the hand-over (a set-up
        # failure; nothing of the program's reaches that pipe) come first.
        result.stderr = streams["setup"].data().decode("utf-8", "replace") + result.stderr
        return result, ended_well

    async def _teardown(self) -> None:
        """The end of a run that ended well, after its answer: reap bwrap (killed
        already), wait for the sandbox's pipes' EOF (its pid namespace is gone then),
        remove its directory and its cgroup once empty (every process of the run gone).
        The run's slot is held until this is done (`lingering`)."""
        try:
            killer = sandbox._Killer(self.proc.pid)
            finished = self._streams["report"].finished
            await sandbox._wait(self.proc.pid, _REAP_S, killer, finished)
            self.proc.returncode = -1
            await sandbox._drain(self._streams)
            self.destroy(remove_cgroup=False)
            if self.group is not None and not self.group.try_remove():
                await self.group.remove()
        except Exception:  # failed: block instead (a cancel is `_given_up`'s)
            self.destroy(wait=True)
            raise

    def _given_up(self, teardown: asyncio.Task) -> None:
        """A teardown cancelled (its loop is closing), maybe before it even started: a
        task cancelled then never runs its body, so its clean-up is done here, blocking."""
        if teardown.cancelled():
            self.destroy(wait=True)

    def _write(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            target = os.path.join(self.workdir, name)
            with open(target, "wb") as f:
                f.write(content.encode())
            if os.geteuid() == 0:
                os.chown(target, sandbox.SANDBOX_UID, sandbox.SANDBOX_UID)

    def _hand_over(self, message: bytes, stdin: bytes, run_fds: list[int]) -> None:
        # The descriptors travel with the run (SCM_RIGHTS): stdin, stdout, stderr, then a
        # harness's results pipe; the host's copies of the write ends are then closed.
        stdin_fd = sandbox._memfd("stdin", stdin)
        try:
            socket.send_fds(self.control, [message], [stdin_fd, *run_fds])
        finally:
            os.close(stdin_fd)
            self.control.close()

    def destroy(self, wait: bool = False, remove_cgroup: bool = True) -> None:
        """Kill whatever is left of the sandbox; remove its directory and cgroup (`wait`:
        block until the cgroup is gone, at shutdown; else a run's task retries it)."""
        for stream in getattr(self, "_streams", {}).values():
            stream.detach()  # before the descriptors it reads are closed below
        proc = getattr(self, "proc", None)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, 9)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, 0)
            proc.returncode = -1
        if proc is not None:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:  # a lean sandbox's stdout is a cgroup file
                    with contextlib.suppress(OSError):
                        stream.close()
        self.control.close()
        self.pipes.__exit__(None, None, None)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if not remove_cgroup or self.group is None or self.group.try_remove():
            return
        if wait or not _in_event_loop():
            _remove_blocking(self.group)
        else:
            sandbox._remove_soon(self.group)


class _RunPipes:
    """The run's own stdout and stderr (and a harness's results) pipes, made at
    hand-over: the write ends go to the program only."""

    def __init__(self, with_results: bool) -> None:
        self.names = ["stdout", "stderr", *(["results"] if with_results else [])]
        self.read: dict[str, int | None] = {}
        self.write: dict[str, int | None] = {}
        for name in self.names:
            self.read[name], self.write[name] = os.pipe()

    def take(self, name: str):
        """The read end as a file its reader (`_Capped.attach`) then owns."""
        fd, self.read[name] = self.read[name], None
        return os.fdopen(fd, "rb", 0)

    def child_ends(self) -> list[int]:
        return [self.write[name] for name in self.names]

    def close_child_ends(self) -> None:
        for name in self.names:
            fd, self.write[name] = self.write[name], None
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> _RunPipes:
        return self

    def __exit__(self, *exc) -> None:
        self.close_child_ends()
        for fd in self.read.values():
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _watch(
    loop, proc, pipes: sandbox._Pipes, run_pipes: _RunPipes, limits, killer, lean: bool
) -> dict:
    """The run's pipes (capped: past a cap the run is killed), the launcher's report
    pipe (a lean sandbox's: bwrap's status pipe) and bwrap's own stderr ("setup"), each
    read by the event loop."""
    cap, channel_cap = limits.max_output_bytes, limits.max_channel_bytes
    sources = {
        "stdout": (run_pipes.take("stdout"), cap, killer.overflow, sandbox._Capped),
        "stderr": (run_pipes.take("stderr"), cap, killer.overflow, sandbox._Capped),
        "setup": (proc.stderr, cap, killer.kill, sandbox._Capped),
    }
    reports = sandbox._StatusReports if lean else sandbox._Reports
    report, pipes.report_r = os.fdopen(pipes.report_r, "rb", 0), None
    sources["report"] = (report, channel_cap, killer.kill, reports)
    if "results" in run_pipes.names:
        sources["results"] = (
            run_pipes.take("results"),
            channel_cap,
            killer.overflow,
            sandbox._Capped,
        )
    streams = {}
    for name, (pipe, limit, on_overflow, kind) in sources.items():
        streams[name] = kind(limit, on_overflow)
        streams[name].attach(loop, pipe)  # read from the selector, as a cold run's are
    return streams


async def _until_reported(
    pid: int, timeout_s: float, killer: sandbox._Killer, finished: asyncio.Future
) -> bool:
    """Wait for the launcher's last record (True: the program ended and was reaped),
    bwrap's exit or the deadline (then `killer.timed_out`): False."""
    loop = asyncio.get_running_loop()
    exited = loop.create_future()
    pidfd = os.pidfd_open(pid)
    loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
    try:
        ended = asyncio.wait([exited, finished], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.wait_for(ended, timeout_s)
    except TimeoutError:
        killer.timed_out = True
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return finished.done() and not killer.timed_out


_REAP_S = 5.0  # after its SIGKILL, bwrap is reaped within milliseconds; a bound anyway
_LINGERING: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "warm_lingering", default=None
)
_ORPHANED: set[asyncio.Task] = set()  # teardowns no caller collects (direct library use)


def _linger(teardown) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(teardown)
    collected = _LINGERING.get()
    if collected is not None:
        collected.append(task)
    _ORPHANED.add(task)
    task.add_done_callback(_ORPHANED.discard)
    return task


@contextlib.contextmanager
def lingering() -> Iterator[list[asyncio.Task]]:
    """Collects the teardowns of the warm runs made inside: a run's answer comes before
    its sandbox is reaped and removed, and whoever counts runs against the host's memory
    (services/execution/local.py's slots) holds the run's slot until they are done."""
    found: list[asyncio.Task] = []
    token = _LINGERING.set(found)
    try:
        yield found
    finally:
        _LINGERING.reset(token)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _remove_blocking(group: cgroup.RunCgroup, within_s: float = 5.0) -> None:
    # The kernel tears a pid namespace down asynchronously after its init dies: the
    # cgroup is busy for a few milliseconds after the kill.
    deadline = time.monotonic() + within_s
    while not group.try_remove():
        if time.monotonic() > deadline:
            log.warning("cgroup %s still busy; the exit sweep retries it", group.dirs)
            return
        time.sleep(0.005)


@contextlib.contextmanager
def taken(
    lang: Language, limits: Limits, script: str | None = None
) -> Iterator[WarmSandbox | None]:
    """A warm sandbox for one run of an interpreted language, or None (the run goes
    cold); `script`: the run's program is this support script (a prepared sandbox is
    preferred). The pool refills in the background once the sandbox is gone (after the
    run's answer: a refill's start does not compete with it, and the pool's sandboxes
    never outnumber its size)."""
    current = _pool
    ready = None
    if current is not None and lang.compile_cmd is None:
        ready = current.take(lang, limits, script)
    try:
        yield ready
    finally:
        if ready is not None:
            ready.when_gone(current.refill_soon)


def _lean(lang: Language, group: cgroup.RunCgroup | None) -> bool:
    """Whether a warm sandbox of `lang` can do without the launcher: a Python with a
    stub, and a run cgroup that counts CPU (what a cold run needs to skip it too)."""
    return _prestart(lang) is not None and sandbox.in_process_python(
        [lang.run_cmd[0], "main.py"], group
    )


def _prestart(lang: Language, prepared: str | None = None) -> list[str] | None:
    """The interpreter started before the run, when the language has a warm stub (told
    which support script to prepare, if any)."""
    if lang.name == "python" and len(lang.run_cmd) == 2:
        stub = [lang.run_cmd[0], sandbox.support_path("warm_python.py")]
        return stub + ([prepared] if prepared else [])
    return None


def _prepared(lang: Language, script: str | None) -> str | None:
    """`script` if this language's stub can prepare it, else None (one plain kind)."""
    return script if script and _prestart(lang) else None


class WarmPool:
    """Idle warm sandboxes per language; `take` hands one out (never back)."""

    def __init__(self, sizes: dict[str, int], limits: Limits = DEFAULT_LIMITS) -> None:
        self.sizes = {resolve(name).name: n for name, n in sizes.items()}
        self.limits = limits
        self._idle: dict[str, deque[WarmSandbox]] = {name: deque() for name in self.sizes}
        # The kinds to keep idle per language (None: plain), `size` slots, shifted by take.
        self._mix: dict[str, list[str | None]] = {n: [None] * c for n, c in self.sizes.items()}
        self._lock = threading.Lock()
        self._closed = False
        self.taken = {name: 0 for name in self.sizes}  # handed out so far, per language
        # Every warm sandbox is spawned on this one thread, which lives as long as the
        # pool: bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the
        # *thread* that forked it exits, so a sandbox spawned on a short-lived thread
        # (asyncio.to_thread, a one-off refill thread) would be SIGKILLed with it.
        self._wanted = threading.Condition(self._lock)
        self._requests = self._served = 0
        self._spawner = threading.Thread(target=self._spawn_loop, name="warm-pool", daemon=True)
        self._spawner.start()

    def idle(self, language: str) -> int:
        return len(self._idle.get(language, ()))

    def readiness(self) -> dict[str, dict[str, int]]:
        """Per language: its size, the idle sandboxes and those of them whose start is
        over (a health check's view: a run now would find that many ready)."""
        with self._lock:
            return {
                name: {
                    "size": size,
                    "idle": len(self._idle[name]),
                    # alive too: a sandbox that died reads as ready (its socket's EOF)
                    # until the next take() sweeps it out
                    "ready": sum(w.ready() and w.alive() for w in self._idle[name]),
                }
                for name, size in self.sizes.items()
            }

    def fill(self) -> None:
        """Top every language up to its size (blocking: a Popen per sandbox)."""
        for name in self.sizes:
            lang = discover().get(name)
            while lang is not None and not self._closed:
                with self._lock:
                    missing = self._missing(name)
                if not missing:
                    break
                warm = WarmSandbox(lang, self.limits, missing[0])
                with self._lock:
                    if self._closed:
                        warm.destroy(wait=True)
                        return
                    self._idle[name].append(warm)

    def _missing(self, name: str) -> list[str | None]:
        """The kinds to start so that the idle sandboxes match the mix (under the lock)."""
        idle = self._idle[name]
        have = Counter(warm.shape.prepared for warm in idle)
        wanted = list((Counter(self._mix[name]) - have).elements())
        return wanted[: max(0, self.sizes[name] - len(idle))]

    def take(self, lang: Language, limits: Limits, script: str | None = None) -> WarmSandbox | None:
        """An idle sandbox for this run, prepared for `script` if one is, or None (the
        run goes cold)."""
        queue = self._idle.get(lang.name)
        if queue is None:
            return None
        wanted = _Shape(lang.name, limits.tmp_size_mb, _prepared(lang, script))
        with self._lock:
            for warm in [
                w for w in queue if not w.alive() or w.shape.tmp_size_mb != wanted.tmp_size_mb
            ]:
                queue.remove(warm)
                warm.destroy()
            # Ready ones first: one still starting makes the run wait for the rest.
            matching = [w for w in queue if w.shape == wanted]
            warm = next((w for w in matching if w.ready()), matching[0] if matching else None)
            if warm is None and queue:
                warm = queue[0]  # the other kind: still this run's isolation, unprepared
                self._shift_mix(lang.name, warm.shape.prepared, wanted.prepared)
            if warm is None:
                return None
            queue.remove(warm)
            self.taken[lang.name] += 1
            return warm

    def _shift_mix(self, name: str, had: str | None, wanted: str | None) -> None:
        mix = self._mix[name]
        if had in mix:
            mix[mix.index(had)] = wanted

    def cgroup_dirs(self) -> set:
        with self._lock:
            idle = [warm for queue in self._idle.values() for warm in queue]
        return {path for warm in idle if warm.group for path in warm.group.dirs}

    def refill_soon(self) -> None:
        """Refill off the request path, on the pool's spawner thread."""
        with self._wanted:
            self._requests += 1
            self._wanted.notify_all()

    def fill_and_wait(self, timeout_s: float = 60.0) -> None:
        """Ask the spawner for a fill and wait until it has done one and the idle
        sandboxes are ready (their starts over, not only begun)."""
        deadline = time.monotonic() + timeout_s
        with self._wanted:
            self._requests += 1
            target = self._requests
            self._wanted.notify_all()
            self._wanted.wait_for(lambda: self._served >= target or self._closed, timeout_s)
            idle = [warm for queue in self._idle.values() for warm in queue]
        for warm in idle:
            warm.ready(max(0.0, deadline - time.monotonic()))

    def _spawn_loop(self) -> None:
        while True:
            with self._wanted:
                self._wanted.wait_for(lambda: self._requests > self._served or self._closed)
                if self._closed:
                    return
                target = self._requests
            try:
                self.fill()
            except Exception:
                log.exception("warm pool refill failed; runs go cold until the next one")
            with self._wanted:
                self._served = target
                self._wanted.notify_all()

    def drain(self) -> None:
        """Destroy every idle sandbox; no refill after this."""
        with self._lock:
            self._closed = True
            self._wanted.notify_all()
            idle = [warm for queue in self._idle.values() for warm in queue]
            for queue in self._idle.values():
                queue.clear()
        for warm in idle:
            warm.destroy(wait=True)
        if self._spawner is not threading.current_thread():
            self._spawner.join(timeout=30)  # a sandbox it is starting is destroyed by it


_pool: WarmPool | None = None


def configure(sizes: dict[str, int], limits: Limits = DEFAULT_LIMITS) -> WarmPool | None:
    """Replace the process's pool (draining the old one) and fill the new one."""
    global _pool
    if _pool is not None:
        _pool.drain()
        _pool = None
    sizes = {resolve(n).name: c for n, c in sizes.items() if _known(n, discover())}
    if not sizes:
        return None
    _pool = WarmPool(sizes, limits)
    atexit.register(_pool.drain)  # before hostdir's and cgroup's own atexit sweeps
    _pool.fill_and_wait()
    return _pool


def _known(name: str, known: dict[str, Language]) -> bool:
    try:
        return resolve(name).name in known
    except Exception:
        log.warning("EXECUTOR_WARM_POOL names %r, which this host cannot run", name)
        return False


def pool() -> WarmPool | None:
    return _pool
