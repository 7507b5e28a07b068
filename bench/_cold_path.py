"""Where a cold sandbox run's time goes: the same hello world under layers added one at a
time, from a minimal `bwrap --unshare-all … python3 -c "print('Hello World')"` (the
anchor) to `execute()`. Each layer's median minus the previous one is what it costs.

Used by bench_execution.py; synchronous layers are timed around subprocess.run, the
library ones around their awaitable, all in this one process, interleaved (every layer
once per round), so the machine's load falls on every layer alike. Next to the wall
clock, the CPU each call cost (this process and every process it started, from a cpuacct
cgroup: _cpu.py): on a shared machine the wall clock moves with the neighbours' load,
the CPU much less.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Callable

import _cpu

from devcapsules.executor import cgroup, execute, sandbox, warm
from devcapsules.executor.runner import workspace
from devcapsules.executor.sandbox import SANDBOX_PYTHON, SandboxLimits, run_sandboxed

NO_USERNS = ["--unshare-user", "--disable-userns"]
HELLO = [SANDBOX_PYTHON, "-c", "print('Hello World')"]


def _minimal(bwrap: str) -> list[str]:
    argv = [bwrap, "--unshare-all", "--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
    return [*argv, "--proc", "/proc", "--dev", "/dev"]


def _spawn_as_nobody(argv: list[str], pass_fds: tuple[int, ...] = ()) -> None:
    launch = sandbox._unprivileged(argv, argv[0], pass_fds)  # as a run's bwrap starts
    _spawn(launch.argv, **launch.popen_kwargs())


def _spawn(argv: list[str], **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, **kwargs)
    assert done.stdout == b"Hello World\n", done.stderr  # a failing layer would look fast


def sync_layers(bwrap: str) -> list[tuple[str, Callable[[], None]]]:
    minimal = _minimal(bwrap)
    seccomp_fd = sandbox._memfd("seccomp", sandbox._seccomp_program())

    def with_seccomp() -> None:
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
        argv = [*minimal, *NO_USERNS, "--seccomp", str(seccomp_fd), *HELLO]
        _spawn_as_nobody(argv, (seccomp_fd,))

    def ours() -> None:  # every option a run has (binds, tmpfs, env, --args memfd), no launcher
        with (
            workspace({}) as workdir,
            sandbox._command(
                sandbox.detect_sandbox(),
                HELLO,
                workdir=workdir,
                writable=False,
                limits=SandboxLimits(),
                mounts=(),
                env={},
            ) as launch,
        ):
            _spawn(launch.argv, **launch.popen_kwargs())

    return [
        ("minimal bwrap + python3 hello (anchor)", lambda: _spawn([*minimal, *HELLO])),
        (
            "+ started as uid 65534 (a user namespace)",
            lambda: _spawn_as_nobody([*minimal, *HELLO]),
        ),
        ("+ --disable-userns", lambda: _spawn_as_nobody([*minimal, *NO_USERNS, *HELLO])),
        ("+ seccomp filter", with_seccomp),
        ("+ our binds, tmpfs, env, --args memfd, work dir", ours),
    ]


async def _sandboxed(argv: list[str], with_cgroup: bool) -> None:
    with contextlib.ExitStack() as stack:
        if not with_cgroup:
            stack.enter_context(_no_cgroup())
        workdir = stack.enter_context(workspace({"main.py": "print('Hello World')"}))
        result = await run_sandboxed(argv, workdir=workdir, limits=SandboxLimits())
    assert result.stdout == "Hello World\n", result.stderr


@contextlib.contextmanager
def _no_cgroup():
    original = cgroup.new_run_cgroup
    cgroup.new_run_cgroup = lambda *a: None
    try:
        yield
    finally:
        cgroup.new_run_cgroup = original


async def _execute() -> None:
    result = await execute("print('Hello World')", "python")
    assert result.stdout == "Hello World\n", result


SCRIPT = [SANDBOX_PYTHON, "main.py"]
WARM = "execute() warm (pre-started sandbox)"
COLD = "execute() cold (+ work dir, classify)"
LAUNCHER = "for reference: the launcher path (JS, compiled, `python3 -c`)"


def async_layers() -> list[tuple[str, Callable]]:
    return [
        (
            "+ cgroup join (sh), in-process stub, bwrap status",
            lambda: _sandboxed(SCRIPT, True),
        ),
        (COLD, _execute),
    ]


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@contextlib.contextmanager
def _pool_hidden():
    """The cold layers run while the warm layer's pool exists: hide it from execute()."""
    pool, warm._pool = warm._pool, None
    try:
        yield
    finally:
        warm._pool = pool


async def _sync(call) -> None:
    call()  # blocks the loop: nothing else runs in it meanwhile


async def _cold(call) -> None:
    with _pool_hidden():
        await call()


async def _warm_round(pool: warm.WarmPool) -> None:
    """Refill to two idle sandboxes off the clock (as a server's refill thread does while
    no request is in flight), then the timed warm run (see `breakdown`)."""
    pool.fill()
    await asyncio.sleep(0.05)  # let the new sandbox reach its wait


async def breakdown(runs: int) -> list[tuple[str, float, float]]:
    """Every layer once per round, round after round: on a shared, noisy machine each
    layer then sees the same load over the run, and the differences mean something (one
    block of runs per layer would compare a quiet minute with a busy one)."""
    bwrap = sandbox.detect_sandbox().path
    layers: list[tuple[str, Callable]] = [
        (name, lambda call=call: _sync(call)) for name, call in sync_layers(bwrap)
    ]
    layers += [(name, lambda call=call: _cold(call)) for name, call in async_layers()]
    layers.append((WARM, _execute))
    layers.append((LAUNCHER, lambda: _cold(lambda: _sandboxed(HELLO, True))))
    pool = warm.configure({"python": 2})
    pool.refill_soon = lambda: None
    samples: dict[str, list[float]] = {name: [] for name, _ in layers}
    cpu: dict[str, list[float]] = {name: [] for name, _ in layers}
    try:
        for round_ in range(runs + 1):  # round 0 warms every layer up, untimed
            for name, call in layers:
                if name == WARM:
                    await _warm_round(pool)
                started, cpu_started = time.perf_counter(), _cpu.cpu_s()
                await call()
                if round_:
                    samples[name].append((time.perf_counter() - started) * 1000)
                    cpu[name].append((_cpu.cpu_s() - cpu_started) * 1000)
    finally:
        warm.configure({})
    return [(name, *_stats(samples[name]), statistics.median(cpu[name])) for name, _ in layers]


def print_breakdown(table: list[tuple[str, float, float, float]]) -> None:
    anchor, anchor_cpu = table[0][1], table[0][3]
    width = max(len(name) for name, *_ in table)
    head = f"{'p50 ms':>7}  {'p99 ms':>7}  {'+ms':>6}  {'x anchor':>8}  {'CPU ms':>6}  {'x':>5}"
    print(f"{'cold path, layer by layer':<{width}}  {head}")
    previous = None
    for name, p50, p99, cpu in table:
        layered = previous is not None and name not in (WARM, LAUNCHER)  # not on the path
        delta = f"{p50 - previous:+.1f}" if layered else ""
        print(
            f"{name:<{width}}  {p50:>7.1f}  {p99:>7.1f}  {delta:>6}  {p50 / anchor:>8.2f}"
            f"  {cpu:>6.1f}  {cpu / anchor_cpu:>5.2f}"
        )
        previous = p50
    by_name = {name: row for name, *row in table}
    (cold, cold_p99, cold_cpu), hot = by_name[COLD], by_name[WARM]
    print(
        f"goal execute() cold p50 <= 1.2x anchor: cold p50 {cold:.1f} ms, p99 {cold_p99:.1f} "
        f"ms: {cold / anchor:.2f}x anchor {anchor:.1f} ms; CPU {cold_cpu:.1f} ms: "
        f"{cold_cpu / anchor_cpu:.2f}x anchor {anchor_cpu:.1f} ms "
        f"(warm {hot[0] / anchor:.2f}x; launcher path {by_name[LAUNCHER][0] / anchor:.2f}x)"
    )


if __name__ == "__main__":
    import sys

    print_breakdown(asyncio.run(breakdown(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
