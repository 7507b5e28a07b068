"""`execute()`: compile (if needed) and run one program in the sandbox, then classify.

Compilation is its own sandbox run with its own, bigger limits and a writable work
directory; the program then runs with the work directory read-only. Status rules, first
match wins: output_limit_exceeded (a stream passed its cap and the run was killed),
time_limit_exceeded (wall deadline, SIGXCPU, or CPU time above the limit),
memory_limit_exceeded (failed with an out-of-memory marker or a peak RSS above the limit),
runtime_error (non-zero exit or a signal), ok.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from devcapsules.services.plans import ExecutionCaps, RunLimits

from . import hostdir, warm
from .languages import Language, resolve
from .limits import DEFAULT_LIMITS, Limits
from .sandbox import SANDBOX_UID, SandboxResult, SandboxUnavailable, StdinTooLarge, run_sandboxed

log = logging.getLogger(__name__)

STATUSES = (
    "ok",
    "runtime_error",
    "compile_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "internal_error",
)
# What runtimes print when an allocation fails under RLIMIT_AS or their heap cap.
_OOM_MARKERS = (
    "MemoryError",
    "JavaScript heap out of memory",
    "java.lang.OutOfMemoryError",
    "std::bad_alloc",
    "memory allocation of",
    "Cannot allocate memory",
)


class SourceTooLarge(ValueError):
    """source_code is above Limits.max_source_bytes (HTTP: 413)."""


@dataclass
class ExecutionResult:
    status: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    signal: int | None = None
    compile_output: str = ""
    time_ms: int = 0
    memory_kb: int = 0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    language: str = ""
    version: str = ""


@dataclass
class CompileOutcome:
    ok: bool
    output: str
    time_ms: int = 0


@contextlib.contextmanager
def workspace(files: dict[str, str | bytes]) -> Iterator[str]:
    """A private per-run directory holding `files`, owned by the sandbox uid, removed after
    (and, should this process die first, by the next host's sweep: see hostdir.py)."""
    path = hostdir.new_run_dir()
    owner = os.geteuid() == 0  # bwrap runs as SANDBOX_UID and must read (compilers: write)
    try:
        for name, content in files.items():
            target = os.path.join(path, name)
            if os.path.dirname(name):
                _make_parents(path, os.path.dirname(name), owner)
            data = content.encode() if isinstance(content, str) else content
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                _write_all(fd, data)
                if owner:
                    os.fchown(fd, SANDBOX_UID, SANDBOX_UID)
            finally:
                os.close(fd)
        if owner:
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
        yield path
    finally:
        _remove_run_dir(path, files)


def _make_parents(root: str, relative: str, owner: bool) -> None:
    current = root
    for part in relative.split(os.sep):
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            os.mkdir(current)
            if owner:
                os.chown(current, SANDBOX_UID, SANDBOX_UID)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _remove_run_dir(path: str, files: dict) -> None:
    """The files we wrote, then the directory; anything else (a compiler's output, a
    subdirectory) through rmtree. A plain run's directory stays as we made it (the
    sandbox sees it read-only): two syscalls instead of rmtree's walk."""
    try:
        for name in files:
            if os.sep not in name:
                os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


async def compile_source(language: Language, workdir: str, limits: Limits) -> CompileOutcome:
    """Compile in its own sandbox run; the work directory is writable for the output only."""
    if language.compile_cmd is None:
        return CompileOutcome(True, "")
    sandbox_limits = limits.sandbox(
        time_limit_s=limits.compile_time_limit_s,
        address_space_mb=language.compile_address_space_mb,
        memory_mb=limits.compile_memory_mb,
        wall_time_s=limits.compile_time_limit_s,
        max_processes=max(limits.max_processes, 128),
    )
    run = await run_sandboxed(
        language.compile_cmd,
        workdir=workdir,
        limits=sandbox_limits,
        writable_workdir=True,
        mounts=language.mounts,
    )
    output = (run.stdout + run.stderr).strip()
    if run.timed_out:
        output += f"\ncompilation timed out after {limits.compile_time_limit_s:g} s"
    ok = run.exit_code == 0 and run.signal is None and not run.timed_out
    return CompileOutcome(ok, output.strip(), run.wall_ms)


def classify(run: SandboxResult, time_limit_s: float, memory_limit_mb: int) -> str:
    if run.output_limit_exceeded:
        return "output_limit_exceeded"
    if run.timed_out or run.signal == signal.SIGXCPU or run.cpu_ms > time_limit_s * 1000:
        return "time_limit_exceeded"
    if run.memory_exceeded:  # the run's cgroup killed a process: the whole run's limit
        return "memory_limit_exceeded"
    failed = run.exit_code != 0 or run.signal is not None
    if failed and is_out_of_memory(run, memory_limit_mb):
        return "memory_limit_exceeded"
    return "runtime_error" if failed else "ok"


def is_out_of_memory(run: SandboxResult, memory_limit_mb: int) -> bool:
    """A failed run that ran out of memory by itself: its runtime's marker, or, where no
    run cgroup counted its memory, a peak RSS above the limit. Not with a cgroup: RSS
    counts the runtime's shared code too (a node program holding 16 MB peaks at 70 MB
    RSS), and the cgroup's OOM kills already say when the run reached its limit."""
    over = not run.memory_counted and run.max_rss_kb > memory_limit_mb * 1024
    return over or any(marker in run.stderr[-4096:] for marker in _OOM_MARKERS)


def check_sizes(source_code: str, stdin: str, limits: ExecutionCaps) -> None:
    """Refuse oversized input before spending a sandbox on it (the plans' size rule)."""
    found = limits.oversized(source_code, stdin)
    if found is not None and found.field == "source_code":
        raise SourceTooLarge(f"source_code is larger than {found.limit} bytes")
    if found is not None:
        raise StdinTooLarge(f"stdin is {found.size} bytes; the limit is {found.limit}")


def admit(
    limits: Limits,
    run: RunLimits | None,
    time_limit_s: float | None,
    memory_limit_mb: int | None,
    source_code: str,
    stdin: str = "",
) -> tuple[Limits, RunLimits]:
    """(sandbox limits, the run's limits). A run the API already admitted (clamped and
    size-checked once, `services.plans`) is taken as it is, under its own caps; a direct
    call is clamped and checked here."""
    if run is not None:
        return limits.with_caps(run.caps), run
    check_sizes(source_code, stdin, limits)
    return limits, limits.clamp(time_limit_s, memory_limit_mb)


async def execute(
    source_code: str,
    language: str,
    *,
    stdin: str = "",
    time_limit_s: float | None = None,
    memory_limit_mb: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    run: RunLimits | None = None,
) -> ExecutionResult:
    """Run a program. Raises UnknownLanguage, SourceTooLarge, StdinTooLarge (client errors)
    and SandboxUnavailable (503); any other failure becomes status internal_error.
    `run`: limits already admitted by the caller (then time/memory/limits' caps unused)."""
    lang = resolve(language)
    limits, admitted = admit(limits, run, time_limit_s, memory_limit_mb, source_code, stdin)
    stdin_bytes = stdin.encode()
    time_s, memory_mb = admitted.time_limit_s, admitted.memory_limit_mb
    try:
        with warm.taken(lang, limits) as ready:
            if ready is not None:
                return await _run_warm(
                    ready, lang, source_code, stdin_bytes, time_s, memory_mb, limits
                )
            with workspace({lang.source_file: source_code}) as workdir:
                return await _compile_and_run(lang, workdir, stdin_bytes, time_s, memory_mb, limits)
    except SandboxUnavailable:
        raise
    except Exception:
        log.exception("execution failed inside the executor")
        return ExecutionResult("internal_error", language=lang.name, version=lang.version)


async def _run_warm(
    ready: warm.WarmSandbox,
    lang: Language,
    source_code: str,
    stdin: bytes,
    time_s: float,
    memory_mb: int,
    limits: Limits,
) -> ExecutionResult:
    """An interpreted program in a pre-started sandbox (warm.py): same limits as cold."""
    run = await ready.run(
        {lang.source_file: source_code},
        lang.run_argv(memory_mb),
        stdin,
        _run_limits(lang, time_s, memory_mb, limits),
    )
    return _execution_result(run, lang, "", time_s, memory_mb)


async def _compile_and_run(
    lang: Language, workdir: str, stdin: bytes, time_s: float, memory_mb: int, limits: Limits
) -> ExecutionResult:
    compiled = await compile_source(lang, workdir, limits)
    if not compiled.ok:
        return ExecutionResult(
            "compile_error",
            compile_output=compiled.output,
            language=lang.name,
            version=lang.version,
        )
    run = await run_sandboxed(
        lang.run_argv(memory_mb),
        workdir=workdir,
        stdin=stdin,
        mounts=lang.mounts,
        limits=_run_limits(lang, time_s, memory_mb, limits),
    )
    return _execution_result(run, lang, compiled.output, time_s, memory_mb)


def _run_limits(lang: Language, time_s: float, memory_mb: int, limits: Limits):
    return limits.sandbox(
        time_limit_s=time_s,
        address_space_mb=lang.address_space_mb(memory_mb),
        memory_mb=memory_mb,
    )


def _execution_result(
    run: SandboxResult, lang: Language, compile_output: str, time_s: float, memory_mb: int
) -> ExecutionResult:
    return ExecutionResult(
        status=classify(run, time_s, memory_mb),
        stdout=run.stdout,
        stderr=run.stderr,
        exit_code=run.exit_code,
        signal=run.signal,
        compile_output=compile_output,
        time_ms=run.wall_ms,
        memory_kb=run.max_rss_kb,
        stdout_truncated=run.stdout_truncated,
        stderr_truncated=run.stderr_truncated,
        language=lang.name,
        version=lang.version,
    )
