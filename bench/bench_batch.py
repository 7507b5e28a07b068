"""Batch-grading throughput: a corpus of small Python function problems (program +
asserts, bench/_corpus.py), graded at concurrency 2, side by side with an UNSANDBOXED
fork-per-program harness (the anchor: what common code-evaluation harnesses do, a forked
process per problem exec'ing its program; bench/_fork_anchor.py, in a process of its own
that loads nothing else, under the interpreter the sandbox runs), on the same machine in
the same run.

    .venv/bin/python bench/bench_batch.py [--size 110] [--rounds 5]

Rows: the anchor; the same harness under this bench's own interpreter (the anchor until
the interpreters were matched); the same harness forked from this bench's own process (the anchor
before: a fork's cost grows with its parent, and this one has the application loaded);
`run_batch()` (one sandbox per half of the corpus, a forked process per program inside),
cold and from the warm pool; the WIRED path, the executor protocol's `run_tests_batch`
as generation verification calls it: each problem a one-test suite (its module, asserts
included, loads in the function-test harness, then `check()` is called), through the
local backend (`LocalExecutor`, two batches on two slots) cold and warm, and through the
real executor service (`devcapsules executor serve` in a subprocess, `RemoteExecutor`
over loopback HTTP; its CPU counted with the cpuacct cgroup); `execute()` per problem
with the warm pool; `execute()` per problem cold. Each row checks every verdict against
the corpus (a broken grader is fast).
Warm rows are measured in steady state, as a server doing batches is: the pool is filled
and has served one small batch (so it keeps sandboxes prepared for the batch harness)
before the clocks start, and the CPU clock stops once the pool has refilled what the
batch took, so each batch is charged the one sandbox start it costs a server.
Interleaved: every row's measurement follows an anchor measurement of its own, and its
ratio is taken against that one (a load spike on this shared machine falls on both);
printed per row: the median wall time, the median of the per-round throughput ratios
(goal >= 0.5x) with their range, and CPU per program (this process and everything it
started, sandboxes included: bench/_cpu.py).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _corpus import corpus, expected_ok
from _cpu import cpu_s, exact
from _fork_anchor import CONCURRENCY, fork_harness

from devcapsules.executor import DEFAULT_LIMITS, execute, warm
from devcapsules.executor.batch import run_batch
from devcapsules.executor.languages import resolve
from devcapsules.schemas.execution import BatchRun
from devcapsules.services.execution.local import Capacity, LocalExecutor
from devcapsules.services.execution.remote import RemoteExecutor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.server import executor_service_process  # noqa: E402

KEY = "bench-batch-key-" + "k" * 32


async def batched(programs: list[str]) -> list[bool]:
    half = (len(programs) + 1) // 2
    parts = await asyncio.gather(run_batch(programs[:half]), run_batch(programs[half:]))
    return [result.status == "ok" for part in parts for result in part]


def suites(programs: list[str]) -> list[BatchRun]:
    """Each problem as a one-test suite: loading runs its asserts, `check()` is the test."""
    check = "\n\ndef check():\n    return True\n"
    case = [{"input": [], "expected": True}]
    return [BatchRun(userCode=p + check, testCases=case, functionName="check") for p in programs]


async def wired(executor, programs: list[str]) -> list[bool]:
    """Two `run_tests_batch` calls at once (the corpus in halves), as two slots take them."""
    runs, limits = suites(programs), DEFAULT_LIMITS.clamp(None, None)
    half = (len(runs) + 1) // 2
    parts = await asyncio.gather(
        executor.run_tests_batch(runs[:half], "python", limits=limits),
        executor.run_tests_batch(runs[half:], "python", limits=limits),
    )
    return [result.summary.status == "passed" for part in parts for result in part]


def through_service(programs: list[str]) -> list[bool]:
    with (
        tempfile.TemporaryDirectory() as logs,
        executor_service_process(
            Path(logs), KEY, "--concurrency", str(CONCURRENCY), env=SERVICE_POOL
        ) as (base, _),
    ):
        remote = RemoteExecutor(base, KEY)
        wait_for_warm_pool(base)
        cpu, started = cpu_s(), time.perf_counter()
        verdicts = asyncio.run(wired(remote, programs))
        # Without the service's start and warm-up: the batch requests alone (the
        # service's process and its sandboxes are in this bench's cpuacct cgroup).
        through_service.wall = time.perf_counter() - started
        through_service.cpu = cpu_s() - cpu
    return verdicts


# The service's own pool, whatever this shell's EXECUTOR_WARM_POOL says (0 there would
# leave the row waiting for a pool that never fills).
SERVICE_POOL = {"EXECUTOR_WARM_POOL": f"python={CONCURRENCY}"}


def wait_for_warm_pool(base: str, within_s: float = 60.0) -> None:
    # The service fills its pool in the background after it listens; a batch arriving
    # later finds it filled and ready, as in steady state (one warm-up call per slot,
    # then the refill's starts over, as its /health says: not a guessed sleep).
    remote = RemoteExecutor(base, KEY)
    asyncio.run(wired(remote, corpus(4)))
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pools = httpx.get(f"{base}/health").json()["warm"].values()
        if pools and all(p["ready"] == p["size"] for p in pools):
            return
        time.sleep(0.02)
    raise RuntimeError(f"the service's warm pool was not ready within {within_s:.0f} s")


async def one_by_one(programs: list[str]) -> list[bool]:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def grade(program: str) -> bool:
        async with slots:
            return (await execute(program, "python")).status == "ok"

    return list(await asyncio.gather(*(grade(p) for p in programs)))


class Anchor:
    """The anchor harness in its own process (bench/_fork_anchor.py), kept for the run,
    under `interpreter`: the sandbox's own by default (the same binary the sandboxed rows
    run, so the comparison is of isolation, not of two builds of Python: on this machine
    this bench's interpreter, a pyenv build, cost ~1.3x the CPU per forked program of
    Debian's /usr/bin/python3, 2.07 vs 1.6 ms, which flattered every sandboxed row)."""

    def __init__(self, size: int, interpreter: str, label: str = "") -> None:
        script = Path(__file__).with_name("_fork_anchor.py")
        self.label = label
        self.process = subprocess.Popen(
            [interpreter, str(script), str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    NAMES = {
        "fork": "unsandboxed fork per program (anchor)",
        "processes": "unsandboxed multiprocessing per program",
    }

    def measure(self, expected: list[bool], harness: str = "fork") -> tuple[str, float, float]:
        cpu = cpu_s()  # the anchor process is this bench's child: in the cpuacct cgroup
        self.process.stdin.write(harness + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        used = cpu_s() - cpu
        assert answer["verdicts"] == expected, f"{harness}: wrong verdicts"
        return self.NAMES[harness] + self.label, answer["wall"], used

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def sandbox_python() -> str:
    """The interpreter the sandboxed rows run (what the sandbox's discovery found)."""
    return resolve("python").run_cmd[0]


def timed(
    name: str, call, programs: list[str], expected: list[bool], pool: dict | None = None
) -> tuple[str, float, float]:
    """Wall time and CPU of `call`; with `pool`, in a warm pool's steady state."""
    if pool:
        return steady_warm(name, call, programs, expected, pool)
    cpu, started = cpu_s(), time.perf_counter()
    verdicts = call(programs)
    wall, used = time.perf_counter() - started, cpu_s() - cpu
    assert verdicts == expected, f"{name}: wrong verdicts"
    return name, wall, used


def steady_warm(
    name: str, call, programs: list[str], expected: list[bool], pool: dict
) -> tuple[str, float, float]:
    """As a server doing batches sees it: the pool filled and warmed by one small batch
    (which shifts its mix to sandboxes prepared for the batch harness, refilled before
    the clocks start); the CPU clock runs until the pool has refilled what this batch
    took (each batch pays the one sandbox start it costs a server, and that refill
    competes with the batch for the CPU as it does there)."""
    filled = warm.configure(pool)
    try:
        call(programs[:4])
        filled.fill_and_wait()
        cpu, started = cpu_s(), time.perf_counter()
        verdicts = call(programs)
        wall = time.perf_counter() - started
        filled.fill_and_wait()
        used = cpu_s() - cpu
    finally:
        warm.configure({})
    assert verdicts == expected, f"{name}: wrong verdicts"
    return name, wall, used


def service_row(programs: list[str], expected: list[bool]) -> tuple[str, float, float]:
    """The executor service's row: wall and CPU of the batch requests, the service's own
    start and warm-up left out (as a server's are before a batch arrives)."""
    name, _, _ = timed("wired: executor service /tests/batch", through_service, programs, expected)
    return name, through_service.wall, through_service.cpu


def rows_of(
    programs: list[str], expected: list[bool], anchor: Anchor, bench_anchor: Anchor
) -> list:
    """Each row's measurement, as a call (rows run interleaved with the anchor)."""

    def local_batches(p: list[str]) -> list[bool]:
        return asyncio.run(wired(LocalExecutor(Capacity.sized(CONCURRENCY)), p))

    def batches(p: list[str]) -> list[bool]:
        return asyncio.run(batched(p))

    def each(p: list[str]) -> list[bool]:
        return asyncio.run(one_by_one(p))

    specs = [
        ("same harness forked from this bench (old anchor)", fork_harness, None),
        ("run_batch(): 2 sandboxes, fork per program", batches, None),
        ("run_batch(): 2 warm sandboxes, fork per program", batches, {"python": CONCURRENCY}),
        ("wired: LocalExecutor.run_tests_batch, cold", local_batches, None),
        ("wired: LocalExecutor.run_tests_batch, warm", local_batches, {"python": CONCURRENCY}),
        ("execute() per program, warm pool", each, {"python": CONCURRENCY}),
        ("execute() per program, cold", each, None),
    ]
    rows = [
        functools.partial(timed, name, call, programs, expected, pool) for name, call, pool in specs
    ]
    rows.insert(5, functools.partial(service_row, programs, expected))
    rows.insert(0, functools.partial(bench_anchor.measure, expected))
    rows.insert(0, functools.partial(anchor.measure, expected, "processes"))
    return rows


def measure(size: int, rounds: int, anchor: Anchor, bench_anchor: Anchor) -> list[list[tuple]]:
    """Per row, per round: (name, wall, cpu, the anchor's wall and cpu just before it)."""
    programs, expected = corpus(size), expected_ok(size)
    rows = rows_of(programs, expected, anchor, bench_anchor)
    measured: list[list[tuple]] = [[] for _ in range(len(rows) + 1)]
    for _ in range(rounds):
        for row, call in zip(measured[1:], rows, strict=True):
            paired = anchor.measure(expected)  # this row's own anchor, right before it
            measured[0].append((*paired, *paired[1:]))
            row.append((*call(), *paired[1:]))
    return measured


GOAL_ROWS = (
    "run_batch(): 2 sandboxes, fork per program",
    "run_batch(): 2 warm sandboxes, fork per program",
    "wired: LocalExecutor.run_tests_batch, cold",
    "wired: LocalExecutor.run_tests_batch, warm",
    "wired: executor service /tests/batch",
)
BENCH_LABEL = ", this bench's interpreter"


def report(measured: list[list[tuple]], size: int, rounds: int) -> None:
    width = max(len(row[0][0]) for row in measured)
    print(f"{size} problems, concurrency {CONCURRENCY}, {rounds} rounds, each row after an anchor")
    head = f"{'grader':<{width}}  {'wall s':>7}  {'x anchor (median)':>17}"
    print(f"{head}  {'(per round)':>11}  {'CPU ms/program':>14}  {'x anchor CPU':>12}")
    ratios, cpu_ratios = [], []
    for row in measured:
        per_round = sorted(anchor_wall / wall for _, wall, _, anchor_wall, _ in row)
        ratio = statistics.median(per_round)
        ratios.append(ratio)
        # On two busy cores throughput is CPU-bound: the CPU ratio is the same figure,
        # steadier against load that falls on one clock and not the other.
        cpu_ratios.append(statistics.median(anchor_cpu / cpu for *_, cpu, _, anchor_cpu in row))
        wall = statistics.median(w for _, w, *_ in row)
        used = statistics.median(u for _, _, u, *_ in row)
        spread = f"{per_round[0]:.2f}-{per_round[-1]:.2f}"
        print(
            f"{row[0][0]:<{width}}  {wall:>7.2f}  {ratio:>17.2f}  {spread:>11}"
            f"  {used * 1000 / size:>14.1f}  {cpu_ratios[-1]:>12.2f}"
        )
    by_name = {row[0][0]: ratio for row, ratio in zip(measured, ratios, strict=True)}
    by_cpu = {row[0][0]: ratio for row, ratio in zip(measured, cpu_ratios, strict=True)}
    goal = [by_name[name] for name in GOAL_ROWS]
    print(
        f"goal >= 0.5x the anchor (median of per-round ratios): run_batch() cold "
        f"{goal[0]:.2f}x, warm {goal[1]:.2f}x; wired (run_tests_batch): local cold "
        f"{goal[2]:.2f}x, warm {goal[3]:.2f}x, executor service {goal[4]:.2f}x"
    )
    print("the same rows in CPU per program: " + ", ".join(f"{by_cpu[n]:.2f}x" for n in GOAL_ROWS))
    for reference in (Anchor.NAMES["processes"], Anchor.NAMES["fork"] + BENCH_LABEL):
        print(
            f"the same rows against the {reference!r} row: "
            + ", ".join(f"{ratio / by_name[reference]:.2f}x" for ratio in goal)
        )
    if not exact:
        print("(no cpuacct cgroup here: CPU counts only reaped processes, an undercount)")


def cost_split(size: int, rounds: int) -> None:
    """CPU of one cold wired batch of 2 runs and of `size // 2`, interleaved: the slope
    is what each further run costs, the rest what a batch costs once (its sandbox)."""
    executor, limits = LocalExecutor(Capacity.sized(CONCURRENCY)), DEFAULT_LIMITS.clamp(None, None)
    small, large = 2, size // 2
    used: dict[int, list[float]] = {small: [], large: []}
    for _ in range(rounds):
        for count in (small, large):
            runs = suites(corpus(count))
            cpu = cpu_s()
            asyncio.run(executor.run_tests_batch(runs, "python", limits=limits))
            used[count].append(cpu_s() - cpu)
    low, high = (statistics.median(used[n]) * 1000 for n in (small, large))
    per_run = (high - low) / (large - small)
    print(
        f"wired cold batch CPU: {small} runs {low:.1f} ms, {large} runs {high:.1f} ms:"
        f" {per_run:.2f} ms per further run, {low - small * per_run:.1f} ms per batch"
    )


def main(size: int, rounds: int) -> None:
    asyncio.run(batched(corpus(4)))  # toolchain discovery and the sandbox check, once
    asyncio.run(LocalExecutor().languages())  # the local backend's discovery, once
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    anchor, bench_anchor = Anchor(size, sandbox_python()), Anchor(size, sys.executable, BENCH_LABEL)
    try:
        for harness in (anchor, bench_anchor):  # its first fork pays the page faults once
            harness.measure(expected_ok(size))
        measured = measure(size, rounds, anchor, bench_anchor)
    finally:
        anchor.close()
        bench_anchor.close()
    report(measured, size, rounds)
    cost_split(size, rounds)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=110)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.size, args.rounds)
