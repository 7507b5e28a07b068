"""Batch-grading throughput: a corpus of small Python function problems (program +
asserts, bench/_corpus.py), graded at concurrency 2, side by side with an UNSANDBOXED
fork-per-program harness (the anchor: what common code-evaluation harnesses do, a forked
process per problem exec'ing its program), on the same machine in the same run.

    .venv/bin/python bench/bench_batch.py [--size 110] [--rounds 3]

Rows: the anchor; `run_batch()` (one sandbox per half of the corpus, a forked process per
program inside), cold and from the warm pool (started before the clock, as a server's is
before a batch arrives; its CPU is counted); the WIRED path, the executor protocol's
`run_tests_batch` as generation verification calls it: each problem a one-test suite (its
module, asserts included, loads in the function-test harness, then `check()` is called),
through the local backend (`LocalExecutor`, two batches on two slots) and through the
real executor service (`devcapsules executor serve` in a subprocess, `RemoteExecutor`
over loopback HTTP; its CPU counted with the cpuacct cgroup); `execute()` per problem
with the warm pool; `execute()` per problem cold. Each row checks every verdict against
the corpus (a broken grader is fast).
Printed: wall time, throughput ratio to the anchor (goal >= 0.5x), CPU per program
(this process and everything it started, sandboxes included: bench/_cpu.py).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _corpus import corpus, expected_ok
from _cpu import cpu_s, exact

from devcapsules.executor import DEFAULT_LIMITS, execute, warm
from devcapsules.executor.batch import run_batch
from devcapsules.schemas.execution import BatchRun
from devcapsules.services.execution.local import Capacity, LocalExecutor
from devcapsules.services.execution.remote import RemoteExecutor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.server import executor_service_process  # noqa: E402

KEY = "bench-batch-key-" + "k" * 32

CONCURRENCY = 2


def _child(program: str) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    signal.alarm(5)
    try:
        exec(compile(program, "<problem>", "exec"), {"__name__": "__main__"})
    except BaseException:
        os._exit(1)
    os._exit(0)


def fork_harness(programs: list[str]) -> list[bool]:
    """Unsandboxed: fork per program, at most CONCURRENCY in flight (the anchor)."""
    verdicts: dict[int, bool] = {}
    running: dict[int, int] = {}
    pending = list(enumerate(programs))
    while pending or running:
        while pending and len(running) < CONCURRENCY:
            index, program = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                _child(program)
            running[pid] = index
        pid, status = os.wait()
        verdicts[running.pop(pid)] = os.waitstatus_to_exitcode(status) == 0
    return [verdicts[i] for i in range(len(programs))]


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
        executor_service_process(Path(logs), KEY, "--concurrency", str(CONCURRENCY)) as (base, _),
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


def wait_for_warm_pool(base: str) -> None:
    # The service fills its pool in the background after it listens; a batch arriving
    # later finds it filled, as in steady state (one warm-up call per slot).
    remote = RemoteExecutor(base, KEY)
    asyncio.run(wired(remote, corpus(4)))
    time.sleep(1.0)


async def one_by_one(programs: list[str]) -> list[bool]:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def grade(program: str) -> bool:
        async with slots:
            return (await execute(program, "python")).status == "ok"

    return list(await asyncio.gather(*(grade(p) for p in programs)))


async def warm_one_by_one(programs: list[str]) -> list[bool]:
    warm.configure({"python": CONCURRENCY})  # refills in the background, as a server does
    try:
        return await one_by_one(programs)
    finally:
        warm.configure({})


def timed(
    name: str, call, programs: list[str], expected: list[bool], pool: dict | None = None
) -> tuple[str, float, float]:
    """Wall time of `call`; CPU of it plus, with `pool`, of starting and draining that
    warm pool (started before the clock, as a server's is before the batch arrives)."""
    cpu = cpu_s()
    if pool:
        warm.configure(pool)
    try:
        started = time.perf_counter()
        verdicts = call(programs)
        wall = time.perf_counter() - started
    finally:
        if pool:
            warm.configure({})
    used = cpu_s() - cpu
    assert verdicts == expected, f"{name}: wrong verdicts"
    return name, wall, used


def service_row(programs: list[str], expected: list[bool]) -> tuple[str, float, float]:
    """The executor service's row: wall and CPU of the batch requests, the service's own
    start and warm-up left out (as a server's are before a batch arrives)."""
    name, _, _ = timed("wired: executor service /tests/batch", through_service, programs, expected)
    return name, through_service.wall, through_service.cpu


def rows_of(programs: list[str], expected: list[bool]) -> list:
    """Each row's measurement, as a call (rows run interleaved, round by round)."""

    def local_batches(p: list[str]) -> list[bool]:
        return asyncio.run(wired(LocalExecutor(Capacity.sized(CONCURRENCY)), p))

    def batches(p: list[str]) -> list[bool]:
        return asyncio.run(batched(p))

    specs = [
        ("unsandboxed fork per program (anchor)", fork_harness, None),
        ("run_batch(): 2 sandboxes, fork per program", batches, None),
        ("run_batch(): 2 warm sandboxes, fork per program", batches, {"python": CONCURRENCY}),
        ("wired: LocalExecutor.run_tests_batch, cold", local_batches, None),
        ("wired: LocalExecutor.run_tests_batch, warm", local_batches, {"python": CONCURRENCY}),
        ("execute() per program, warm pool", lambda p: asyncio.run(warm_one_by_one(p)), None),
        ("execute() per program, cold", lambda p: asyncio.run(one_by_one(p)), None),
    ]
    rows = [
        functools.partial(timed, name, call, programs, expected, pool) for name, call, pool in specs
    ]
    rows.insert(5, functools.partial(service_row, programs, expected))
    return rows


def main(size: int, rounds: int) -> None:
    programs, expected = corpus(size), expected_ok(size)
    asyncio.run(batched(programs[:4]))  # toolchain discovery and the sandbox check, once
    asyncio.run(LocalExecutor().languages())  # the local backend's discovery, once
    measured: list[list[tuple[str, float, float]]] = [[] for _ in rows_of(programs, expected)]
    for _ in range(rounds):  # interleaved: a load spike hits every row, not one
        for row, measure in zip(measured, rows_of(programs, expected), strict=True):
            row.append(measure())
    anchor = statistics.median(wall for _, wall, _ in measured[0])
    width = max(len(row[0][0]) for row in measured)
    print(f"{size} problems, concurrency {CONCURRENCY}, median of {rounds} interleaved rounds")
    head = f"{'grader':<{width}}  {'wall s':>7}  {'throughput x anchor':>19}"
    print(f"{head}  {'(per round)':>17}  {'CPU ms/program':>14}")
    ratios = []
    for row, anchor_row in zip(measured, [measured[0]] * len(measured), strict=True):
        wall = statistics.median(w for _, w, _ in row)
        used = statistics.median(u for _, _, u in row)
        per_round = [a[1] / r[1] for a, r in zip(anchor_row, row, strict=True)]
        ratios.append(anchor / wall)
        spread = f"{min(per_round):.2f}-{max(per_round):.2f}"
        print(
            f"{row[0][0]:<{width}}  {wall:>7.2f}  {anchor / wall:>19.2f}  {spread:>17}"
            f"  {used * 1000 / size:>14.1f}"
        )
    print(
        f"goal run_batch() >= 0.5x the anchor: cold {ratios[1]:.2f}x, warm {ratios[2]:.2f}x;"
        f" wired (run_tests_batch): local cold {ratios[3]:.2f}x, warm {ratios[4]:.2f}x,"
        f" executor service {ratios[5]:.2f}x"
    )
    if not exact:
        print("(no cpuacct cgroup here: CPU counts only reaped processes, an undercount)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=110)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.size, args.rounds)
