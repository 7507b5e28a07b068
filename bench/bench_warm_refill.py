"""What a warm sandbox costs: its start (the pool's refill) and its one run, in CPU.

    .venv/bin/python bench/bench_warm_refill.py [--rounds 30]

A warm run is cheap on the request path because its sandbox was started before it; the
start is still paid, once per run, off the path (the pool refills after each run). This
prints, per kind of warm Python sandbox, the CPU of its start until it is ready (bwrap,
the interpreters, a prepared harness's imports), of its hello-world run, and of both,
beside the minimal `bwrap --unshare-all ... python3 -c "print('Hello World')"` spawn and
a cold `execute()` of the same hello world, measured in the same run, interleaved (every
row once per round, so the machine's load falls on every row alike). CPU is this process
plus every process it started (a cpuacct cgroup: _cpu.py); wall is printed beside it.

Kinds: lean (sh joins the run's counting cgroups and execs the stub, which waits for its
run: one interpreter), and the warm launcher's (the launcher forks the process that
execs the stub: two interpreters), which hosts without a CPU-counting run cgroup get;
each plain and prepared for the function-test harness (its imports loaded while waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _cpu
from _cold_path import HELLO, _minimal, _spawn_as_nobody

from devcapsules.executor import execute, sandbox, warm
from devcapsules.executor.languages import discover
from devcapsules.executor.limits import DEFAULT_LIMITS

PROGRAM = "print('Hello World')"
HARNESS = sandbox.support_path("python_harness.py")


@contextlib.contextmanager
def launcher_kind(on: bool):
    """Sandboxes started inside are the launcher's kind (as without a CPU-counting cgroup)."""
    real = sandbox.in_process_python
    if on:
        sandbox.in_process_python = lambda *_: False
    try:
        yield
    finally:
        sandbox.in_process_python = real


def measured(call) -> tuple[float, float, object]:
    """(CPU ms, wall ms, value) of one call."""
    cpu, wall = _cpu.cpu_s(), time.perf_counter()
    value = call()
    return (_cpu.cpu_s() - cpu) * 1000, (time.perf_counter() - wall) * 1000, value


def start(prepared: str | None):
    lang = discover()["python"]
    box = warm.WarmSandbox(lang, DEFAULT_LIMITS, prepared)
    if not box.ready(10.0):
        raise RuntimeError("a warm sandbox did not get ready in 10 s")
    return box


def run_hello(box: warm.WarmSandbox) -> float:
    """Run hello world in `box`; the ms from the hand-over's start to the answer."""
    lang = box.lang
    limits = DEFAULT_LIMITS.sandbox(time_limit_s=5, address_space_mb=None, memory_mb=256)

    async def go() -> float:
        with warm.lingering() as teardowns:  # the launcher kind's, after the answer
            began = time.perf_counter()
            result = await box.run({lang.source_file: PROGRAM}, lang.run_argv(256), b"", limits)
            answered = time.perf_counter() - began
        assert result.stdout == "Hello World\n", result.stderr
        await asyncio.gather(*teardowns, *sandbox._removals)  # its end counted, all of it
        return answered * 1000

    return asyncio.run(go())


def cold_hello() -> None:
    result = asyncio.run(execute(PROGRAM, "python"))
    assert result.stdout == "Hello World\n", result.stderr


KINDS = [
    ("lean", False, None),
    ("lean, prepared for tests", False, HARNESS),
    ("launcher", True, None),
    ("launcher, prepared for tests", True, HARNESS),
]


def one_round(bwrap: str, rows: dict) -> None:
    anchor = _minimal(bwrap) + HELLO
    cpu, wall, _ = measured(lambda: _spawn_as_nobody(anchor))
    rows.setdefault("anchor", []).append((cpu, wall, 0.0, wall))
    cpu, wall, _ = measured(cold_hello)
    rows.setdefault("cold", []).append((cpu, wall, 0.0, wall))
    for name, launcher, prepared in KINDS:
        with launcher_kind(launcher):
            start_cpu, start_wall, box = measured(lambda p=prepared: start(p))
        if prepared is None:
            run_cpu, _, answer_ms = measured(lambda b=box: run_hello(b))
        else:  # not run here: its program is the harness, measured by bench_execution
            box.destroy(wait=True)
            run_cpu = answer_ms = float("nan")
        rows.setdefault(name, []).append((start_cpu, start_wall, run_cpu, answer_ms))


def p50(values) -> float:
    return statistics.median(values)


def line(name: str, *cells: str) -> None:
    widths = (10, 11, 8, 9, 11)
    print(f"{name:42}", *(f"{c:>{w}}" for c, w in zip(cells, widths, strict=False)), end="")
    print(f"  {cells[-1]}")


def report(rows: dict) -> None:
    anchor = p50(r[0] for r in rows["anchor"])
    cold, cold_wall = p50(r[0] for r in rows["cold"]), p50(r[1] for r in rows["cold"])
    anchor_wall = p50(r[1] for r in rows["anchor"])
    line("row", "start CPU", "start wall", "run CPU", "both CPU", "answer wall", "x anchor CPU")
    line(
        "minimal bwrap+python spawn (anchor)",
        "",
        "",
        f"{anchor:.1f}",
        f"{anchor:.1f}",
        f"{anchor_wall:.1f}",
        "1.00",
    )
    line(
        "cold execute() (reference)",
        "",
        "",
        f"{cold:.1f}",
        f"{cold:.1f}",
        f"{cold_wall:.1f}",
        f"{cold / anchor:.2f}",
    )
    for name, _launcher, prepared in KINDS:
        samples = rows[name]
        start_cpu = p50(r[0] for r in samples)
        start_wall = f"{p50(r[1] for r in samples):.1f}"
        if prepared is None:
            run_cpu, both = p50(r[2] for r in samples), p50(r[0] + r[2] for r in samples)
            answer = p50(r[3] for r in samples)
            cells = (f"{run_cpu:.1f}", f"{both:.1f}", f"{answer:.1f}", f"{both / anchor:.2f}")
        else:  # its run is the harness's: bench_execution.py measures that
            cells = ("-", "-", "-", f"{start_cpu / anchor:.2f} (start only)")
        line(f"warm, {name}", f"{start_cpu:.1f}", start_wall, *cells)
    print("(ms, p50 of the rounds; 'both': a warm run's whole CPU, its start included;")
    print(" 'answer wall': from the hand-over to the run's result, the latency a warm run adds)")
    if not _cpu.exact:
        print("note: no cpuacct cgroup here: CPU from getrusage, which undercounts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    bwrap = sandbox.detect_sandbox().path
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows: dict = {}
    one_round(bwrap, rows)  # warm-up: caches, the support dir, the first cgroups
    rows.clear()
    for _ in range(args.rounds):
        one_round(bwrap, rows)
    print(f"{args.rounds} rounds, every row once per round")
    report(rows)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
