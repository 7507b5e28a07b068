"""Run one command in a fresh, throw-away sandbox and report how it ended.

Layers, outermost first:
1. The host process (this module) starts bubblewrap as an unprivileged host uid (65534 when
   we are root), in its own process group, with a wall-clock deadline. At the deadline, or
   when stdout/stderr exceed their cap, the group is SIGKILLed; bwrap's pid namespace then
   takes every process of the run with it (when its pid 1 dies, the kernel kills the rest).
2. bubblewrap: new user, pid, net, ipc, uts and mount namespaces; read-only binds of the
   toolchain only (/usr and friends), a size-capped tmpfs /tmp, the run's work directory,
   a cleared environment, uid/gid 65534, --die-with-parent, --new-session.
   The sandbox's pid 1 is bwrap's reaper (it forks one when --as-pid-1 is not given):
   the sandbox uid, dumpable, outside the run's cgroups and rlimits, holding the run's
   life (its parent-death signal ends the pid namespace). A program could open its
   /proc/1/mem for writing and run code there, which could clear that signal and outlive
   the run. So /proc/1 is an empty read-only directory (a bind over it, made before the
   program exists; no capability or mount call inside can undo it), and seccomp refuses
   ptrace and process_vm_* (the other ways into a same-uid process): nothing reaches it.
   Not --as-pid-1: pid 1 would then be the launcher (fine: non-dumpable) or, for an
   in-process Python, the program itself (self-sent signals dropped, SIGXCPU ignored,
   and it could clear its own parent-death signal) or a guardian it forks, non-dumpable
   through ctypes: measured +3.5 ms of CPU per cold run (fork copy-on-write, _ctypes).
3. Python programs (`python3 [-I] script`, with a run cgroup that counts CPU): no launcher.
   bwrap starts `sh`, which joins the run's memory (v1: and cpuacct) cgroup, sets the
   rlimits (`ulimit`) and execs the program's own interpreter on harness/warm_python.py
   (`--run`): it joins the pids one, sets the descriptors, and runs the script
   in-process. How the run ended comes from outside the sandbox only: the exit status
   from bwrap's --json-status-fd (held by its monitor, outside the pid namespace;
   written only when the program was exec'd and ended), peak memory and CPU from the
   run cgroup. One interpreter start instead of two. A warm Python sandbox starts the
   same way (`lean_warm_argv`; warm.py), its stub waiting for the run instead.
   Everything else (JS, compiled programs, `runs` mode, hosts without such a cgroup):
   launcher.py inside sets CPU/address-space/process/file-size/open-file rlimits on the
   user's process, waits for it and reports exit code, signal, peak RSS on a private fd.

Why bwrap runs as an unprivileged host uid: RLIMIT_NPROC is never enforced for processes
whose real uid is host root (kernel `copy_process` exempts INIT_USER), and bwrap started by
root maps the sandbox uid onto host root. Started as 65534 instead, the count is kept per
user namespace, so each run gets its own process budget and a fork bomb stops there.

No fallback: when no bwrap can build this sandbox (bwrap.py says which binary is used),
`SandboxUnavailable` says what is missing and no code runs. A weaker isolation (plain
namespaces without the filesystem view, say) is never substituted silently or otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import grp
import json
import logging
import marshal
import os
import pwd
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroup, hostdir, seccomp
from .bwrap import Bwrap, BwrapMissing, find_bwrap, world_traversable

log = logging.getLogger(__name__)

HARNESS_DIR = Path(__file__).with_name("harness")
SANDBOX_UID = 65534  # "nobody": both the uid inside and the host uid bwrap runs as
SANDBOX_PYTHON = "/usr/bin/python3"  # runs the launcher; lives under the mounted /usr
SANDBOX_SH = "/bin/sh"  # joins the run cgroup before an in-process Python (see below)
BOX_DIR = "/box"  # where the run's work directory appears inside the sandbox
SUPPORT_DIR = "/opt/dc"  # read-only copy of harness/ inside the sandbox
_PATH = "/usr/local/bin:/usr/bin:/bin"
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/alternatives")  # dynamic loader, Debian symlinks


class SandboxUnavailable(RuntimeError):
    """No way to isolate untrusted code on this host (HTTP: 503)."""


class StdinTooLarge(ValueError):
    """The caller passed more stdin than the limits allow (HTTP: 413 or 422)."""


@dataclass(frozen=True)
class Mount:
    """An extra host path the toolchain needs inside (e.g. a JDK's /etc config)."""

    source: str
    dest: str


@dataclass(frozen=True)
class SandboxLimits:
    wall_time_s: float = 5.0
    cpu_time_s: int = 5
    address_space_mb: int | None = 256  # None: no RLIMIT_AS (runtimes that reserve a lot)
    memory_mb: int = 256  # the whole run (cgroup): every process, tmpfs, memfds
    max_processes: int = 64
    max_file_size_mb: int = 16
    max_open_files: int = 256
    tmp_size_mb: int = 64
    max_output_bytes: int = 64 * 1024  # per stream
    max_stdin_bytes: int = 1024 * 1024
    max_channel_bytes: int = 4 * 1024 * 1024  # launcher reports + harness results
    per_run_wall_s: float | None = None  # `runs` mode: deadline of each run (else wall)

    def rlimits(self) -> list[tuple[int, int, int]]:
        """(resource, soft, hard) for the launcher or warm stub to set, as they are: one
        table here for both (the sandbox runs on this kernel, so RLIMIT_* numbers agree).
        CPU gets a 1 s slack: SIGXCPU at the soft limit, SIGKILL at the hard one."""
        mb = 1024 * 1024
        wanted = [
            (resource.RLIMIT_CPU, self.cpu_time_s, 1),
            (resource.RLIMIT_AS, self.address_space_mb * mb if self.address_space_mb else None, 0),
            (resource.RLIMIT_NPROC, self.max_processes, 0),
            (resource.RLIMIT_FSIZE, self.max_file_size_mb * mb, 0),
            (resource.RLIMIT_NOFILE, self.max_open_files, 0),
            (resource.RLIMIT_CORE, 0, 0),
        ]
        return [(which, int(v), int(v) + slack) for which, v, slack in wanted if v is not None]


@dataclass
class SandboxResult:
    stdout: str
    stderr: str
    exit_code: int | None  # the user's process, as the launcher saw it
    signal: int | None
    timed_out: bool  # the wall-clock deadline fired
    output_limit_exceeded: bool  # a stream passed its cap; the run was killed
    stdout_truncated: bool
    stderr_truncated: bool
    wall_ms: int
    cpu_ms: int
    max_rss_kb: int
    reports: list[dict] = field(default_factory=list)  # launcher records (one per run)
    results: bytes = b""  # harness channel, untrusted: parse defensively
    # False: no trusted record of the program's end (the launcher's last report, or bwrap's
    # exit-code for an in-process Python): killed, crashed, or never started
    launcher_ok: bool = True
    memory_exceeded: bool = False  # the run's cgroup OOM-killed one of its processes
    # A run cgroup measured the run (measure_memory): max_rss_kb is its peak,
    # memory_exceeded its OOM kills. Without one, max_rss_kb is the processes' peak RSS,
    # which also counts the runtime's shared code (node's ~40 MB): a rough stand-in.
    memory_counted: bool = False


@functools.cache
def detect_sandbox() -> Bwrap:
    """Find bwrap and prove it can start a sandbox with every option a run uses, once per
    process (a failure is not cached: the next call tries again). Raises
    SandboxUnavailable saying what is missing: there is no weaker fallback."""
    if not os.path.exists(SANDBOX_PYTHON):
        raise SandboxUnavailable(f"{SANDBOX_PYTHON} is required inside the sandbox")
    try:
        found = find_bwrap(hostdir.support_root())
    except BwrapMissing as exc:
        raise SandboxUnavailable(str(exc)) from None
    problem = _smoke_test(found)
    if problem is not None:
        raise SandboxUnavailable(
            f"{found.describe()} cannot create the sandbox: {problem}. It needs unprivileged "
            "user namespaces (user.max_user_namespaces > 0, and "
            "kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_"
            "userns=0 where those exist); code execution is refused until then"
        )
    return found


def _smoke_test(bwrap: Bwrap) -> str | None:
    """None when `/bin/true` runs in a sandbox built exactly like a run's; else why not."""
    try:
        with _command(
            bwrap,
            ["/bin/true"],
            workdir=_support_dir(),
            writable=False,
            limits=SandboxLimits(),
            mounts=(),
            env={},
        ) as launch:
            done = subprocess.run(
                launch.argv, capture_output=True, timeout=10, **launch.popen_kwargs()
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip()[:300] or f"exit {done.returncode}"
    return None


def _unprivileged(command: list[str], bwrap_path: str, fds: tuple[int, ...]) -> _Launch:
    """Start `command` (bwrap) as the sandbox uid, not root (see the module docstring).

    Through setpriv, not Popen(user=, group=, extra_groups=): with those, Popen must fork
    the host process instead of vfork-ing it, copying its page tables first (22 ms for a
    server-sized process, measured, on every run's path); setpriv's exec costs ~0.2 ms.
    setpriv starts in bwrap's directory and finds it on PATH=".", so bwrap runs as plain
    `bwrap` and no host path shows in the sandbox's /proc/1/cmdline or /proc/1/environ
    (bwrap's own); bwrap clears the environment (--clearenv) before the program starts
    and only ever uses absolute host paths. Without setpriv: Popen's identity options."""
    if os.geteuid() != 0:
        return _Launch(command, bwrap_path, fds, {})
    setpriv = _setpriv_path()
    if setpriv is None:
        return _Launch(command, bwrap_path, fds, _POPEN_IDENTITY)
    user, group = _sandbox_names()
    drop = [
        setpriv,
        f"--reuid={user}",
        f"--regid={group}",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
    ]
    return _Launch([*drop, *command], setpriv, fds, {}, {"PATH": "."}, os.path.dirname(bwrap_path))


@functools.cache
def _setpriv_path() -> str | None:
    return shutil.which("setpriv")  # once per process, not a PATH scan per run


@functools.cache
def _sandbox_names() -> tuple[str, str]:
    """The sandbox uid's user and group names for setpriv, where they map back to it.
    setpriv looks --reuid/--regid up as a name first: a number misses /etc/passwd and,
    with `files systemd` in nsswitch.conf, has glibc load libnss_systemd for every run
    (0.25 ms of CPU, measured); the name is found in the file at once. Else the number."""
    try:
        user, group = pwd.getpwuid(SANDBOX_UID).pw_name, grp.getgrgid(SANDBOX_UID).gr_name
        if pwd.getpwnam(user).pw_uid == SANDBOX_UID and grp.getgrnam(group).gr_gid == SANDBOX_UID:
            return user, group
    except KeyError:
        pass
    return str(SANDBOX_UID), str(SANDBOX_UID)


_POPEN_IDENTITY = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}


@functools.cache
def _support_dir() -> str:
    """A world-readable copy of harness/ plus a synthetic /etc/passwd, made once per host
    process inside its one scratch directory (removed at exit; see hostdir.py)."""
    root = hostdir.support_root()
    for source in HARNESS_DIR.iterdir():
        if source.is_file():
            shutil.copyfile(source, root / source.name)
    _compile_stub(root)
    (root / "passwd").write_text(f"nobody:x:{SANDBOX_UID}:{SANDBOX_UID}::/tmp:/bin/false\n")
    (root / "group").write_text(f"nogroup:x:{SANDBOX_UID}:\n")
    (root / _EMPTY).mkdir(exist_ok=True)  # bound over /proc/1 (see _bwrap_args)
    for path in root.iterdir():
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(root)


_EMPTY = "empty"
_STUB = "warm_python.py"
_COMPILE = "import py_compile, sys; py_compile.compile(*sys.argv[1:], doraise=True)"


def _compile_stub(root: Path) -> None:
    """warm_python.pyc, compiled by the sandbox's own interpreter (a .pyc is only good for
    the Python that wrote it): a cold run then starts the stub without compiling it (1 ms
    of CPU). Named as it is inside, so its frames show no host path. Best effort: without
    it the .py runs."""
    paths = [str(root / _STUB), str(root / f"{_STUB}c"), support_path(_STUB)]
    done = subprocess.run(
        [SANDBOX_PYTHON, "-I", "-S", "-c", _COMPILE, *paths],
        capture_output=True,
        timeout=30,
    )
    if done.returncode != 0:
        log.warning("cannot precompile %s: %s", _STUB, done.stderr.decode(errors="replace")[-300:])


@functools.cache
def _stub_script(python: str) -> str:
    """The stub `python` runs: the .pyc only for the interpreter that compiled it (once
    per interpreter path: two realpaths and a stat were 0.07 ms of every cold run)."""
    compiled = os.path.join(_support_dir(), f"{_STUB}c")
    same = os.path.realpath(python) == os.path.realpath(SANDBOX_PYTHON)
    return support_path(f"{_STUB}c" if same and os.path.exists(compiled) else _STUB)


def support_path(name: str) -> str:
    """Path, as seen inside the sandbox, of a file shipped in harness/."""
    return f"{SUPPORT_DIR}/{name}"


def _memfd(name: str, data: bytes) -> int:
    # A memfd instead of a pipe: no writer task, no EPIPE, and the reader may seek.
    fd = os.memfd_create(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@dataclass(frozen=True)
class _Launch:
    """How to start one sandbox: Popen's argv, executable, inherited fds, identity, env."""

    argv: list[str]
    executable: str
    fds: tuple[int, ...]
    identity: dict
    env: dict = field(default_factory=dict)
    cwd: str | None = None

    def popen_kwargs(self) -> dict:
        return {
            "executable": self.executable,
            "pass_fds": self.fds,
            "env": self.env,
            "cwd": self.cwd,
            **self.identity,
        }


# A toolchain the sandbox uid cannot reach (rustup's under a 0700 /root) is bind-mounted,
# by root, onto a staging directory in a mount namespace private to this one launch (it
# vanishes with it: nothing to clean up), then root is dropped and bwrap binds the stage.
# bwrap's own --ro-bind-fd cannot do it: it turns the fd back into a path and traverses it.
_STAGE_SCRIPT = """
while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift
exec setpriv --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all "$@"
"""


@contextlib.contextmanager
def _command(
    bwrap: Bwrap,
    argv: Sequence[str],
    *,
    workdir: str,
    writable: bool,
    limits: SandboxLimits,
    mounts: Sequence[Mount],
    env: Mapping[str, str],
    status_fd: int | None = None,
) -> Iterator[_Launch]:
    """How to start bwrap for one run; the descriptors it inherits are closed on exit.

    The options travel in a memfd (`--args FD`), not on the command line: bwrap's argv
    is what the sandbox sees in /proc/1/cmdline, and the options name host paths (the
    command after `--` names only paths inside).
    """
    staged = _stage(mounts)
    binds = [(stage or m.source, m.dest) for m, stage in zip(mounts, staged, strict=True)]
    with contextlib.ExitStack() as fds:
        seccomp_fd = _memfd("seccomp", _seccomp_program())
        fds.callback(os.close, seccomp_fd)
        options = _bwrap_args(workdir, writable, limits, binds, env, seccomp_fd)
        if status_fd is not None:  # bwrap reports its program's end here (outside the box)
            options += ["--json-status-fd", str(status_fd)]
        args_fd = _memfd("bwrap-args", ("\0".join(options) + "\0").encode())
        fds.callback(os.close, args_fd)
        command = ["bwrap", "--args", str(args_fd), "--", *argv]
        inherited = (args_fd, seccomp_fd)
        if not any(staged):
            yield _unprivileged(command, bwrap.path, inherited)
            return
        pairs = [
            p for m, stage in zip(mounts, staged, strict=True) if stage for p in (m.source, stage)
        ]
        script = _STAGE_SCRIPT.format(uid=SANDBOX_UID)
        yield _Launch(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                script,
                "sh",
                *pairs,
                "--",
                bwrap.path,
                *command[1:],
            ],
            shutil.which("unshare") or "/usr/bin/unshare",
            inherited,
            {},
        )


def _seccomp_program() -> bytes:
    try:
        return seccomp.program()
    except seccomp.UnsupportedArchitecture as exc:
        raise SandboxUnavailable(str(exc)) from None


def _stage(mounts: Sequence[Mount]) -> list[str | None]:
    """Per mount: None when bwrap can bind its source directly, else the staging dir."""
    staged: list[str | None] = []
    for index, mount in enumerate(mounts):
        if os.geteuid() != 0 or world_traversable(mount.source, SANDBOX_UID):
            staged.append(None)
            continue
        stage = hostdir.support_root().parent / "stage" / str(index)
        stage.mkdir(parents=True, exist_ok=True)
        for path in (stage, stage.parent):
            path.chmod(0o755)
        staged.append(str(stage))
    return staged


def _bwrap_args(
    workdir: str,
    writable: bool,
    limits: SandboxLimits,
    mounts: Sequence[tuple[str, str]],
    env: Mapping[str, str],
    seccomp_fd: int,
) -> list[str]:
    args = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",  # no nested user namespace: no capabilities to regain inside
        "--seccomp",
        str(seccomp_fd),
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--clearenv",
        "--setenv",
        "PATH",
        _PATH,
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
    ]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += _system_binds()
    for source, dest in mounts:
        args += ["--ro-bind", source, dest]
    support = _support_dir()
    args += [
        "--ro-bind",
        support,
        SUPPORT_DIR,
        "--symlink",  # links, not binds: fewer mounts, fewer host paths in mountinfo
        f"{SUPPORT_DIR}/passwd",
        "/etc/passwd",
        "--symlink",
        f"{SUPPORT_DIR}/group",
        "/etc/group",
        "--proc",
        "/proc",
        # Hide bwrap's reaper, the sandbox's pid 1 (see the module docstring): an empty
        # read-only directory over its /proc entry, before anything of the run exists.
        "--ro-bind",
        os.path.join(support, _EMPTY),
        "/proc/1",
        "--dev",
        "/dev",
        "--size",
        str(limits.tmp_size_mb * 1024 * 1024),
        "--tmpfs",
        "/tmp",
        "--bind" if writable else "--ro-bind",
        workdir,
        BOX_DIR,
        "--remount-ro",
        "/",
        "--chdir",
        BOX_DIR,
    ]
    return args


@functools.cache
def _system_binds() -> tuple[str, ...]:
    """/usr, the root links and the loader's /etc files, as this host lays them out: looked
    up once per process (eight stat calls a run before)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in _ROOT_LINKS:  # merged-/usr hosts: /lib -> usr/lib; others: real dirs
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return tuple(args)


class _Capped(asyncio.Protocol):
    """Collects a pipe up to `cap` bytes; calls `on_overflow` once when it passes it."""

    def __init__(self, cap: int, on_overflow) -> None:
        self.cap, self.on_overflow = cap, on_overflow
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflowed = False
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.seen(data)
        room = self.cap - self.size
        if room > 0:
            self.chunks.append(data[:room])
        self.size += len(data)
        if self.size > self.cap and not self.overflowed:
            self.overflowed = True
            self.on_overflow()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def seen(self, data: bytes) -> None:
        pass

    def data(self) -> bytes:
        return b"".join(self.chunks)

    def attach(self, loop: asyncio.AbstractEventLoop, pipe) -> None:
        """Read `pipe` (a file object, now this reader's) straight from the event loop's
        selector: what connect_read_pipe does, without its transport and without the
        loop iteration each one takes to set up (four a run, in turn)."""
        self._pipe, self._loop = pipe, loop
        os.set_blocking(pipe.fileno(), False)
        loop.add_reader(pipe.fileno(), self._readable)

    def detach(self) -> None:
        """Stop reading, if still reading: the run is given up (its loop is closing). The
        reader goes before its descriptor does, so no loop polls a closed or reused fd."""
        pipe = getattr(self, "_pipe", None)
        if pipe is not None and not pipe.closed:
            self._loop.remove_reader(pipe.fileno())
            pipe.close()
            self.connection_lost(None)

    def read_now(self) -> None:
        """Everything the pipe holds now, without waiting for its EOF (a writer that
        outlives the run's end may still hold it); what comes later is not read."""
        pipe = getattr(self, "_pipe", None)
        while pipe is not None and not pipe.closed and self._read_once():
            pass

    def _readable(self) -> None:
        self._read_once()

    def _read_once(self) -> bool:
        """One read; whether there may be more to read now."""
        try:
            data = os.read(self._pipe.fileno(), _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if data:
            self.data_received(data)
            return True
        self._loop.remove_reader(self._pipe.fileno())
        self._pipe.close()
        self.connection_lost(None)
        return False


_READ_SIZE = 256 * 1024  # as asyncio's pipe transports read


class _StatusRecords:
    """bwrap's --json-status-fd, read once bwrap has ended: it writes its records in
    small pieces (the child's pid and each namespace at the start, about eight writes,
    then the exit code), and nothing needs them before its exit; a reader on the event
    loop woke the host for every piece while the sandbox was starting. The pipe holds
    them (64 KiB; bwrap writes well under 1 KiB, and only bwrap's monitor holds it)."""

    def __init__(self, fd: int, cap: int) -> None:
        self.pipe, self.cap = os.fdopen(fd, "rb", 0), cap  # a file object: closed however
        self.chunks: list[bytes] = []
        loop = asyncio.get_running_loop()
        self.finished = loop.create_future()  # never set: bwrap's own exit ends the run
        self.closed = loop.create_future()
        self.closed.set_result(None)

    def collect(self) -> None:
        """Everything written so far (bwrap is gone), then close."""
        fd = self.pipe.fileno()
        os.set_blocking(fd, False)
        size = 0
        with contextlib.suppress(OSError):  # BlockingIOError: a writer left, no EOF
            while size < self.cap:
                chunk = os.read(fd, self.cap - size)
                if not chunk:
                    break
                self.chunks.append(chunk)
                size += len(chunk)
        self.pipe.close()

    def data(self) -> bytes:
        return b"".join(self.chunks)


_DONE = b'{"done": true}'


class _Reports(_Capped):
    """The launcher's report pipe; `finished` resolves at its last record. From then on
    nothing of the run is needed: the host ends the sandbox at once instead of waiting
    for the launcher, bwrap's init and bwrap to exit in turn (the pid namespace dies with
    bwrap either way, so a process the run left behind is killed just the same)."""

    END = _DONE

    def __init__(self, cap: int, on_overflow) -> None:
        super().__init__(cap, on_overflow)
        self.finished = asyncio.get_running_loop().create_future()
        self._tail = b""

    def seen(self, data: bytes) -> None:
        window = self._tail + data
        if self.END in window and not self.finished.done():
            self.finished.set_result(None)
        self._tail = window[-len(self.END) :]


class _StatusReports(_Reports):
    """bwrap's --json-status-fd read as it comes (a warm sandbox's: warm.py), `finished`
    at its exit-code record, which bwrap's monitor writes (in one write) as soon as its
    pid 1 says the program ended, before the monitor itself exits."""

    END = b'"exit-code"'


async def run_sandboxed(
    argv: Sequence[str],
    *,
    workdir: str,
    limits: SandboxLimits,
    stdin: bytes = b"",
    writable_workdir: bool = False,
    mounts: Sequence[Mount] = (),
    env: Mapping[str, str] | None = None,
    runs: Sequence[str] | None = None,
    results_channel: bool = False,
) -> SandboxResult:
    """Run `argv` (cwd: the work dir) in a fresh sandbox and wait for it, at most the limits.

    `runs`: stdin files (relative to the work dir): run `argv` once per file, each captured
    separately into `reports` (I/O tests). `results_channel`: give the process fd 3 as a
    pipe whose bytes come back in `results` (function-test harnesses).
    """
    if len(stdin) > limits.max_stdin_bytes:
        raise StdinTooLarge(f"stdin is {len(stdin)} bytes; the limit is {limits.max_stdin_bytes}")
    bwrap = detect_sandbox()
    group = cgroup.new_run_cgroup(hostdir.host_dir().name, limits.memory_mb, limits.max_processes)
    if group is None:
        limits = cgroup.fallback(limits)
    stdin_fd = _memfd("stdin", stdin)
    try:
        in_process = runs is None and in_process_python(argv, group)
        early = group.counting if in_process else 0  # the cgroups sh joins (_join_script)
        with _Pipes(results_channel, group.open() if group else [], early > 1) as pipes:
            if in_process:
                command = _in_process_argv(argv, limits, pipes, stdin_fd, early)
            else:
                command = launcher_argv(_launcher_spec(argv, limits, runs, pipes))
            with _command(
                bwrap,
                command,
                workdir=workdir,
                writable=writable_workdir,
                limits=limits,
                mounts=mounts,
                env=env or {},
                status_fd=pipes.report_w if in_process else None,
            ) as launch:
                result = await _supervise(launch, stdin_fd, limits, pipes, early)
        if group is not None:
            measure_memory(result, group)
            if in_process:
                result.cpu_ms = _cgroup_cpu_ms(group)
    finally:
        os.close(stdin_fd)
        if group is not None:
            group.close()
            _remove_soon(group)
    _check_setup(result)
    return result


_removals: set[asyncio.Task] = set()


def _remove_soon(group: cgroup.RunCgroup) -> None:
    # Usually empty by now (every process of the run has closed its pipes). If not, a
    # task, not an await: this also runs in the `finally` of a cancelled run, where an
    # await would be cancelled too (and whatever is left at exit is swept then).
    if group.try_remove():
        return
    task = asyncio.get_running_loop().create_task(group.remove())
    _removals.add(task)
    task.add_done_callback(_removals.discard)


def in_process_python(argv: Sequence[str], group: cgroup.RunCgroup | None) -> bool:
    """Can this run skip the launcher: `python3 [-I] script args...` (what warm_python.py
    runs in its own interpreter), with a run cgroup that counts CPU, so everything the
    launcher would report is known from outside (bwrap's status, the cgroup's files)."""
    if group is None or group.cpu_file is None or len(argv) < 2:
        return False
    if not os.path.basename(argv[0]).startswith("python") or not os.path.exists(SANDBOX_SH):
        return False
    rest = argv[2:] if argv[1] == "-I" else argv[1:]
    return bool(rest) and not rest[0].startswith("-")


# The sandbox's first process: `sh`, whose stdin is the run's memory cgroup.procs (on v2
# the only one) and, on v1, whose stdout is its cpuacct one, joins them with a write of
# "0" (the kernel checks the credentials of the opener, root), then execs the Python: so
# the interpreter's whole start is charged to the run and its CPU counted, as a launched
# program's are. Through stdin/stdout because dash's redirections take single-digit
# descriptors only (and bwrap writes only to stderr); the stub puts the run's stdin and
# stdout back on fds 0 and 1, and joins the pids cgroup (nothing has forked yet).
# It also sets the run's rlimits (dash's `ulimit` builtin), so the stub never imports
# `resource` (an extension module: its load was ~0.3 ms of each cold run's CPU); the
# interpreter then starts under them, as a launched program does.
_JOIN = "printf 0 >&0 2>/dev/null", "printf 0 2>/dev/null"
_JOIN_FAILED = '|| { echo "sandbox: cannot join the run cgroup" >&2; exit 125; }'
_LIMITS_FAILED = '|| { echo "sandbox: cannot set the run\'s limits" >&2; exit 125; }'
# dash's ulimit flag and unit (bytes) per rlimit a run sets (SandboxLimits.rlimits)
_ULIMIT = {
    resource.RLIMIT_CPU: ("t", 1),
    resource.RLIMIT_AS: ("v", 1024),
    resource.RLIMIT_NPROC: ("p", 1),
    resource.RLIMIT_FSIZE: ("f", 512),
    resource.RLIMIT_NOFILE: ("n", 1),
    resource.RLIMIT_CORE: ("c", 512),
}


def _join_script(early: int, ulimits: str | None) -> str:
    steps = [f"{' && '.join(_JOIN[:early])} {_JOIN_FAILED}"]
    if ulimits:
        steps.append(f"{ulimits} {_LIMITS_FAILED}")
    return "; ".join([*steps, 'exec "$@"'])


@functools.cache
def _sh_is_dash() -> bool:
    """Whether the sandbox's `sh` (the host's, bound read-only) is dash, whose `ulimit`
    flags `_ULIMIT` spells. Other shells differ (bash's `-p` is the pipe size, its
    process limit is `-u`), so with them the stub sets the rlimits."""
    return os.path.basename(os.path.realpath("/usr/bin/sh")) == "dash"


def _ulimit_commands(rlimits: list[tuple[int, int, int]]) -> str | None:
    """The rlimits as `ulimit` commands: both limits, then the soft one where it is
    lower. None when one is not in whole units of its flag, or `sh` is not dash (the
    stub sets them then)."""
    if not _sh_is_dash():
        return None
    commands = []
    for which, soft, hard in rlimits:
        flag, unit = _ULIMIT.get(which, ("", 0))
        if not unit or soft % unit or hard % unit:
            return None
        commands.append(f"ulimit -{flag} {hard // unit}")
        if soft != hard:
            commands.append(f"ulimit -S -{flag} {soft // unit}")
    return " && ".join(commands)


def _in_process_argv(
    argv: Sequence[str], limits: SandboxLimits, pipes: _Pipes, stdin_fd: int, early: int
) -> list[str]:
    """sh (the first `early` cgroups, the rlimits) -> `python3 warm_python.py --run HEX`,
    which joins the others, sets fds, then runs the script in its own interpreter."""
    rlimits = limits.rlimits()
    ulimits = _ulimit_commands(rlimits)
    run = {
        "argv": list(argv),
        "limits": [] if ulimits else rlimits,  # the stub's to set: none when sh did
        "stdin_fd": stdin_fd,
        "stdout_fd": pipes.stdout_w,
        "results_fd": pipes.results_w,
        "cgroup_fds": pipes.cgroup_fds[early:],  # the first ones: sh's
    }
    stub = [argv[0], _stub_script(argv[0]), "--run", marshal.dumps(run).hex()]
    return [SANDBOX_SH, "-c", _join_script(early, ulimits), "sh", *stub]


def lean_warm_argv(
    python: str, cgroup_fds: list[int], early: int, control_fd: int, prepare: str | None
) -> list[str]:
    """A warm Python sandbox without the launcher (warm.py): sh joins the first `early`
    cgroups (on its stdin and stdout) as for a cold run, then `python3 warm_python.pyc
    --warm HEX` joins the others and waits for its run on `control_fd`. The rlimits are
    the run's, not known yet: the stub sets them at hand-over."""
    start = {"cgroup_fds": cgroup_fds[early:], "control_fd": control_fd, "prepare": prepare}
    stub = [python, _stub_script(python), "--warm", marshal.dumps(start).hex()]
    return [SANDBOX_SH, "-c", _join_script(early, None), "sh", *stub]


def measure_memory(result: SandboxResult, group: cgroup.RunCgroup) -> None:
    """The run's memory as its cgroup counted it: peak and OOM kills. Where the cgroup
    keeps no peak (v2 before memory.peak), the processes' peak RSS stands in."""
    peak_kb, oom_kills = group.usage()
    result.max_rss_kb = peak_kb if group.keeps_peak else max(result.max_rss_kb, peak_kb)
    result.memory_exceeded, result.memory_counted = oom_kills > 0, True


def _cgroup_cpu_ms(group: cgroup.RunCgroup) -> int:
    used = group.cpu_ms()
    if used is None:  # we made the file; only a host fault removes it
        log.warning("the run's CPU time could not be read from its cgroup")
    return used or 0


def launcher_argv(spec: dict) -> list[str]:
    # marshal, not JSON: the launcher then starts without importing json (see launcher.py).
    return [SANDBOX_PYTHON, "-I", "-S", support_path("launcher.py"), marshal.dumps(spec).hex()]


def _launcher_spec(
    argv: Sequence[str], limits: SandboxLimits, runs: Sequence[str] | None, pipes: _Pipes
) -> dict:
    return {
        "argv": list(argv),
        "limits": limits.rlimits(),
        "report_fd": pipes.report_w,
        "results_fd": pipes.results_w,
        "runs": [{"stdin": path} for path in runs] if runs is not None else None,
        "run_timeout_s": limits.per_run_wall_s or limits.wall_time_s,
        "cgroup_fds": pipes.cgroup_fds,
        "max_output": limits.max_output_bytes,
    }


class _Pipes:
    """The launcher's (or bwrap's status) report pipe, the optional harness results pipe
    and, when bwrap's stdout is a cgroup descriptor (_join_script), the program's stdout
    pipe (host ends)."""

    def __init__(self, with_results: bool, cgroup_fds: list[int], own_stdout=False) -> None:
        self.report_r, self.report_w = os.pipe()
        self.results_r, self.results_w = os.pipe() if with_results else (None, None)
        self.stdout_r, self.stdout_w = os.pipe() if own_stdout else (None, None)
        self.cgroup_fds = cgroup_fds  # owned by the RunCgroup; only passed through here

    def child_fds(self) -> tuple[int, ...]:
        ends = (self.report_w, self.results_w, self.stdout_w)
        return (*(fd for fd in ends if fd is not None), *self.cgroup_fds)

    def close_child_ends(self) -> None:
        for fd in (self.report_w, self.results_w, self.stdout_w):
            if fd is not None:
                os.close(fd)
        self.report_w = self.results_w = self.stdout_w = None

    def __enter__(self) -> _Pipes:
        return self

    def __exit__(self, *exc) -> None:
        ends = (self.report_r, self.report_w, self.results_r, self.results_w)
        for fd in (*ends, self.stdout_r, self.stdout_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


async def _supervise(
    launch: _Launch, stdin_fd: int, limits: SandboxLimits, pipes: _Pipes, early: int
) -> SandboxResult:
    """`early`: an in-process Python's cgroups its sh joins, on its stdin (and stdout);
    the run's stdin (and stdout) then travel as plain descriptors (see _join_script)."""
    if early == 0:
        proc = _start(launch, stdin_fd, pipes)
    else:
        stdout = pipes.cgroup_fds[1] if early > 1 else subprocess.PIPE
        proc = _start(launch, pipes.cgroup_fds[0], pipes, (stdin_fd,), stdout)
    return await _follow(proc, pipes, limits, status_from_bwrap=early > 0)


def _start(
    launch: _Launch, stdin, pipes: _Pipes, extra_fds: tuple[int, ...] = (), stdout=subprocess.PIPE
):
    """Popen bwrap in its own session (its group is what a kill targets)."""
    kwargs = launch.popen_kwargs()
    kwargs["pass_fds"] = (*launch.fds, *pipes.child_fds(), *extra_fds)
    return subprocess.Popen(
        launch.argv,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **kwargs,
    )


async def _follow(
    proc, pipes: _Pipes, limits: SandboxLimits, go=None, status_from_bwrap: bool = False
) -> SandboxResult:
    """Watch a started sandbox to its end: caps, deadline, reaping. `go` (warm runs) is
    called once the streams are watched: it hands the run over; the clock starts there.
    `status_from_bwrap`: the report pipe is bwrap's --json-status-fd, not a launcher's."""
    loop = asyncio.get_running_loop()
    killer = _Killer(proc.pid)
    status = streams = None
    started = time.monotonic()
    try:
        pipes.close_child_ends()
        streams = await _attach(loop, proc, pipes, limits, killer, status_from_bwrap)
        if go is not None:
            started = time.monotonic()
            go()
        status = await _wait(proc.pid, limits.wall_time_s, killer, streams["report"].finished)
    finally:
        # However we leave (done, cancelled, or failed after Popen): nothing of the run may
        # survive, and bwrap must be reaped (Popen will not: we own its returncode).
        killer.kill()
        if status is None:
            _reap(proc)
        proc.returncode = -1  # reaped by us; stop Popen.__del__ from waiting again
        if status_from_bwrap and streams is not None:
            streams["report"].collect()
    await _drain(streams)
    wall_ms = int((time.monotonic() - started) * 1000)
    return _result(status, streams, killer, wall_ms, status_from_bwrap)


class _Killer:
    def __init__(self, pid: int) -> None:
        self.pid, self.timed_out, self.overflowed = pid, False, False

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def overflow(self) -> None:
        self.overflowed = True
        self.kill()


async def _attach(
    loop, proc, pipes: _Pipes, limits: SandboxLimits, killer: _Killer, bwrap_status=False
) -> dict:
    """Read the run's pipes from the loop, each capped; `bwrap_status`: the report pipe
    is bwrap's --json-status-fd, read at the end instead (_StatusRecords)."""
    cap, channel_cap, kill = limits.max_output_bytes, limits.max_channel_bytes, killer.kill
    stdout = proc.stdout
    if pipes.stdout_r is not None:  # bwrap's own stdout was a cgroup descriptor
        stdout, pipes.stdout_r = os.fdopen(pipes.stdout_r, "rb", 0), None
    streams = {}
    sources = [
        ("stdout", stdout, cap, killer.overflow),
        ("stderr", proc.stderr, cap, killer.overflow),
    ]
    if bwrap_status:
        streams["report"] = _StatusRecords(pipes.report_r, channel_cap)
    else:
        report = os.fdopen(pipes.report_r, "rb", 0)
        streams["report"] = _Reports(channel_cap, kill)
        streams["report"].attach(loop, report)
    pipes.report_r = None  # now owned by its reader
    if pipes.results_r is not None:
        # Past its cap, the harness channel is an output flood like stdout's.
        results = os.fdopen(pipes.results_r, "rb", 0)
        sources.append(("results", results, channel_cap, killer.overflow))
        pipes.results_r = None
    for name, pipe, limit, on_overflow in sources:
        streams[name] = _Capped(limit, on_overflow)
        streams[name].attach(loop, pipe)
    return streams


async def _wait(
    pid: int, timeout_s: float, killer: _Killer, finished: asyncio.Future
) -> tuple[int, object]:
    """Wait for bwrap (or the launcher's last report: then kill it, nothing is left to
    wait for) with wait4 (not waitpid) so we could read its rusage too. Callbacks on one
    future, not asyncio.wait inside wait_for: those two made a task and two loop turns
    per run."""
    loop = asyncio.get_running_loop()
    exited = loop.create_future()
    pidfd = os.pidfd_open(pid)
    loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))

    def at_deadline() -> None:
        if exited.done():  # ended in the same loop turn: not a timeout
            return
        if not finished.done():
            killer.timed_out = True
        killer.kill()

    def end_now(_: asyncio.Future) -> None:  # the launcher's last record
        killer.kill()

    deadline = loop.call_later(timeout_s, at_deadline)
    finished.add_done_callback(end_now)
    try:
        await exited
    finally:
        deadline.cancel()
        finished.remove_done_callback(end_now)
        loop.remove_reader(pidfd)
        os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def _reap(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """Reap bwrap after a SIGKILL to its group, from code that cannot await (a `finally`
    of a cancelled task): poll briefly, which a killed process needs only milliseconds of,
    then leave a blocking wait to a daemon thread rather than stall the event loop."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _status, _usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            return  # already reaped
        if pid:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    log.warning("sandbox process %d did not die promptly; reaping it in the background", proc.pid)
    threading.Thread(target=_wait_quietly, args=(proc.pid,), daemon=True).start()


def _wait_quietly(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


async def _drain(streams: dict) -> None:
    # Everything in the pid namespace is dead once bwrap is, so EOF comes promptly; the
    # timeout only guards against a descriptor leaked to some process outside it.
    waiters = [s.closed for s in streams.values() if not s.closed.done()]
    if waiters:  # usually none by now; `wait`, not a gather that a cancel could orphan
        await asyncio.wait(waiters, timeout=2.0)


class SandboxSetupError(RuntimeError):
    """The sandbox itself failed to start (a bad mount, an unreadable work dir)."""


def _check_setup(result: SandboxResult) -> None:
    # The launcher always reports unless killed; silence plus a bwrap message on stderr
    # means the sandbox never started, which is our fault, not the user's program's.
    killed = result.timed_out or result.output_limit_exceeded
    if not result.launcher_ok and not killed and result.stderr.startswith("bwrap: "):
        raise SandboxSetupError(result.stderr.strip()[:500])


def _result(
    status, streams: dict, killer: _Killer, wall_ms: int, status_from_bwrap: bool = False
) -> SandboxResult:
    raw_status, _usage = status
    reports = _parse_reports(streams["report"].data())
    if status_from_bwrap:
        reports = _bwrap_reports(reports)
    final = next((r for r in reports if "done" not in r and "index" not in r), None)
    per_run = [r for r in reports if "index" in r]
    outer_code = os.waitstatus_to_exitcode(raw_status)
    exit_code, sig = _outcome(final, outer_code)
    return SandboxResult(
        stdout=streams["stdout"].data().decode("utf-8", "replace"),
        stderr=streams["stderr"].data().decode("utf-8", "replace"),
        exit_code=exit_code,
        signal=sig,
        timed_out=killer.timed_out,
        output_limit_exceeded=killer.overflowed,
        stdout_truncated=streams["stdout"].overflowed,
        stderr_truncated=streams["stderr"].overflowed,
        wall_ms=wall_ms,
        cpu_ms=(final or {}).get("cpu_ms", 0) + sum(r.get("cpu_ms", 0) for r in per_run),
        max_rss_kb=max([r.get("max_rss_kb", 0) for r in [final or {}, *per_run]]),
        reports=per_run,
        results=streams["results"].data() if "results" in streams else b"",
        launcher_ok=any("done" in r for r in reports),
    )


def _bwrap_reports(records: list[dict]) -> list[dict]:
    """bwrap's --json-status-fd records as a launcher's: its `exit-code` record (written
    only when its program was exec'd and has ended: never for a setup failure or a run we
    killed) becomes the final record, with the shell's 128 + signal convention undone.
    The descriptor lives in bwrap's monitor, outside the sandbox's pid namespace: nothing
    the program does can write to it."""
    code = next((r["exit-code"] for r in records if type(r.get("exit-code")) is int), None)
    if code is None:
        return []
    exit_code, sig = _outcome(None, code)
    return [{"exit_code": exit_code, "signal": sig}, {"done": True}]


def _outcome(final: dict | None, outer_code: int) -> tuple[int | None, int | None]:
    if final is not None:
        return final.get("exit_code"), final.get("signal")
    # No launcher report: it was killed (deadline, overflow) or the user killed it.
    if outer_code < 0:
        return None, -outer_code
    if outer_code > 128:  # bwrap reports a signalled child as 128 + signal
        return None, outer_code - 128
    return outer_code, None


def _parse_reports(data: bytes) -> list[dict]:
    records = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
