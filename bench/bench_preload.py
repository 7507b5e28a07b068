"""What a module preloaded by the batch harness (batch_python.py) costs every batch and
saves every program that imports it (or, `--single`, one preloaded by a prepared
function-test harness: every warm refill and every warm run): two source trees side by
side (say main's and one that preloads `typing`), alternating, one worker process per
tree per round.

    .venv/bin/python bench/bench_preload.py OLD_SRC NEW_SRC [--rounds 6] [--count 40]

Each worker grades, cold and from a warm pool (steady state, as bench_batch.py's warm
rows: the pool's refill charged to the batch), with `run_batch()` and with the wired
`run_tests_batch` (each problem a one-test suite), one batch at a time: 2 untyped
problems (the batch's start and its first runs), then the same 2 and COUNT more untyped
ones, then the same 2 and COUNT typed ones (HumanEval-style, `from typing import ...`;
bench/_corpus.py). The slopes are what a further untyped and a further typed problem
cost; the start, what the batch costs once. Next to them, the unsandboxed fork anchor
(bench/_fork_anchor.py's harness under the sandbox's interpreter) on the same problems,
its parent with and without `typing` loaded. CPU from a cpuacct cgroup (bench/_cpu.py).
Printed per tree: the range over rounds and the median; last, the break-even (how many
typed problems a batch needs to pay for the start the preload adds).

    .venv/bin/python bench/bench_preload.py OLD_SRC NEW_SRC --single [--rounds 6] [--count 20]

The same for single function-test runs (`run_tests`, what `/execute/tests` runs): COUNT
runs a round of a typed and an untyped problem, alternating, each from a warm pool of one
sandbox prepared for the function-test harness (steady state: ready, idle 50 ms first),
then cold (no pool). Per run: its wall (the call to the answer) and CPU until the answer;
for warm runs also the refill's CPU (the used sandbox's end and the prepared start that
replaces it, until the pool is ready again: off the request path, paid once per run).
Printed: per tree the range over rounds of each round's median, and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("run_batch", "tests_batch")
MODES = ("cold", "warm")
SETS = ("start", "untyped", "typed")  # the three batches of a measurement, in order


def problems(count: int) -> tuple[list[str], list[str]]:
    from _corpus import corpus, expected_ok

    every = corpus(3 * count + 6)
    ok = expected_ok(3 * count + 6)
    passing = [p for p, good in zip(every, ok, strict=True) if good]
    typed = [p for p in passing if "from typing" in p]
    untyped = [p for p in passing if "from typing" not in p]
    return untyped[: count + 2], typed[:count]


def worker(count: int) -> None:
    """One round under the tree on PYTHONPATH: one JSON line of CPU and wall seconds."""
    sys.path.insert(0, str(HERE))
    from bench_batch import LocalExecutor, batched, steady_warm, suites, timed

    from devcapsules.executor import DEFAULT_LIMITS
    from devcapsules.executor.batch import run_batch
    from devcapsules.services.execution.local import Capacity

    untyped, typed = problems(count)
    asyncio.run(batched(untyped[:2]))  # discovery and the sandbox check, off the clocks
    limits = DEFAULT_LIMITS.clamp(None, None)

    def plain(programs: list[str]) -> list[bool]:
        return [r.status == "ok" for r in asyncio.run(run_batch(programs))]

    def tests(programs: list[str]) -> list[bool]:
        executor = LocalExecutor(Capacity.sized(1))
        done = asyncio.run(executor.run_tests_batch(suites(programs), "python", limits=limits))
        return [r.summary.status == "passed" for r in done]

    calls = {"run_batch": plain, "tests_batch": tests}
    sets = dict(zip(SETS, (untyped[:2], untyped, untyped[:2] + typed), strict=True))
    out: dict = {}
    for kind in KINDS:
        for mode in MODES:
            for name, programs in sets.items():
                expected = [True] * len(programs)
                if mode == "warm":
                    _, wall, used = steady_warm(
                        name, calls[kind], programs, expected, {"python": 1}
                    )
                else:
                    _, wall, used = timed(name, calls[kind], programs, expected)
                out[f"{kind} {mode} {name}"] = (used, wall)
    out.update(anchor(untyped, typed))
    print(json.dumps(out))


# A single run's problems: the same function typed HumanEval-style and untyped.
SINGLE = {
    "untyped": "def below_zero(operations):\n",
    "typed": "from typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n",
}
BODY = (
    "    balance = 0\n    for op in operations:\n        balance += op\n"
    "        if balance < 0:\n            return True\n    return False\n"
)
CASES = [{"input": [[1, 2, -4]], "expected": True}, {"input": [[1, 2, 3]], "expected": False}]
IDLE_S = 0.05  # a warm sandbox waits this long first, as between a server's requests


def single_run(name: str, pool) -> tuple[float, float, float]:
    """(CPU, wall, refill CPU) seconds of one run_tests of problem `name`; with `pool`
    from its ready prepared sandbox, the refill then waited for."""
    from _cpu import cpu_s

    from devcapsules.executor import warm
    from devcapsules.executor.tests_harness import run_tests

    async def go():
        with warm.lingering() as teardowns:
            result = await run_tests(SINGLE[name] + BODY, CASES, "python", "below_zero")
            answered, cpu = time.perf_counter(), cpu_s()
        await asyncio.gather(*teardowns)
        return result, answered, cpu

    if pool is not None:
        pool.fill_and_wait()
        time.sleep(IDLE_S)
    cpu, started = cpu_s(), time.perf_counter()
    result, answered, cpu_answered = asyncio.run(go())
    assert result.status == "passed", result
    refill = 0.0
    if pool is not None:
        assert pool.taken["python"] > 0
        pool.fill_and_wait()
        refill = cpu_s() - cpu_answered
    return cpu_answered - cpu, answered - started, refill


def single_worker(count: int) -> None:
    """One round of single runs under the tree on PYTHONPATH: one JSON line of medians."""
    sys.path.insert(0, str(HERE))
    import _cpu  # noqa: F401 (first: the run cgroups made later nest in its cpuacct one)

    from devcapsules.executor import warm

    samples: dict[str, list] = {}
    pool = warm.configure({"python": 1})
    single_run("untyped", pool)  # takes the plain sandbox; the mix shifts to prepared ones
    (idle,) = pool._idle["python"]
    assert idle.shape.prepared and idle.shape.prepared.endswith("python_harness.py")
    for mode in ("warm", "cold"):
        for index in range(count):
            for name in SINGLE if index % 2 == 0 else list(SINGLE)[::-1]:
                samples.setdefault(f"{mode} {name}", []).append(single_run(name, pool))
        pool = warm.configure({})  # drained: no pool for the cold runs
    out = {}
    for row, values in samples.items():
        for at, what in enumerate(("ms CPU", "ms wall", "refill ms CPU")):
            if at < 2 or row.startswith("warm"):
                out[f"{row}: {what}"] = statistics.median(v[at] for v in values) * 1000
    print(json.dumps(out))


ANCHOR = """
import json, resource, sys
sys.path.insert(0, {here!r})
if {preload}:
    import typing
from _fork_anchor import fork_harness
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(-1)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
sets = json.loads(sys.stdin.read())
fork_harness(sets["untyped"][:4])  # its first forks pay the page faults once
out = {{}}
for name, programs in sets.items():
    start = cpu()
    assert all(fork_harness(programs))
    out[name] = cpu() - start
print(json.dumps(out))
"""


def anchor(untyped: list[str], typed: list[str]) -> dict:
    """CPU per problem of the unsandboxed fork anchor (every child reaped: getrusage
    counts it), its parent with `typing` loaded and without."""
    from devcapsules.executor.languages import resolve

    python, out = resolve("python").run_cmd[0], {}
    for preload in (False, True):
        script = ANCHOR.format(here=str(HERE), preload=preload)
        sets = json.dumps({"untyped": untyped[2:], "typed": typed})
        done = subprocess.run(
            [python, "-c", script], input=sets, capture_output=True, text=True, check=True
        )
        for name, used in json.loads(done.stdout).items():
            out[f"anchor{' +typing' if preload else ''} {name}"] = (used, 0.0)
    return out


def derived(round_: dict, count: int) -> dict:
    """Per round: per-problem CPU (ms) of a further untyped and typed problem, the batch's
    start, and wall per problem of the typed batch."""
    figures = {}
    for kind in KINDS:
        for mode in MODES:
            start, untyped, typed = (round_[f"{kind} {mode} {n}"] for n in SETS)
            per_untyped = (untyped[0] - start[0]) / count * 1000
            per_typed = (typed[0] - start[0]) / count * 1000
            figures[f"{kind} {mode}: further untyped ms CPU"] = per_untyped
            figures[f"{kind} {mode}: further typed ms CPU"] = per_typed
            figures[f"{kind} {mode}: start ms CPU"] = start[0] * 1000 - 2 * per_untyped
            figures[f"{kind} {mode}: typed batch ms wall/problem"] = typed[1] / (count + 2) * 1000
    for label in ("anchor", "anchor +typing"):
        for name in ("untyped", "typed"):
            figures[f"{label}: {name} ms CPU/problem"] = round_[f"{label} {name}"][0] / count * 1000
    return figures


def one_round(src: str, count: int, single: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": src}
    worker_flag = "--single-worker" if single else "--worker"
    done = subprocess.run(
        [sys.executable, __file__, worker_flag, "--count", str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(trees: list[str], rounds: int, count: int, single: bool) -> None:
    print(f"load at start: {Path('/proc/loadavg').read_text().strip()}")
    measured: dict[str, list[dict]] = {tree: [] for tree in trees}
    for index in range(rounds):
        for tree in trees if index % 2 == 0 else trees[::-1]:  # ABBA: drift falls on both
            figures = one_round(tree, count, single)
            measured[tree].append(figures if single else derived(figures, count))
    what = "single runs of each problem and mode" if single else "further problems a batch"
    print(f"{rounds} rounds, {count} {what}, alternating trees")
    names = list(measured[trees[0]][0])
    width = max(map(len, names))
    print(f"{'figure':<{width}}  " + "  ".join(f"{t[-40:]:>24}" for t in trees))
    for name in names:
        cells = []
        for tree in trees:
            values = sorted(r[name] for r in measured[tree])
            cells.append(f"{values[0]:.2f}-{values[-1]:.2f} ({statistics.median(values):.2f})")
        print(f"{name:<{width}}  " + "  ".join(f"{c:>24}" for c in cells))
    if not single:
        break_even(trees, measured)
    print(f"load at end: {Path('/proc/loadavg').read_text().strip()}")


def break_even(trees: list[str], measured: dict[str, list[dict]]) -> None:
    old, new = trees[0], trees[-1]
    for kind in KINDS:
        for mode in MODES:
            med = {
                tree: {
                    what: statistics.median(r[f"{kind} {mode}: {what}"] for r in measured[tree])
                    for what in ("start ms CPU", "further typed ms CPU")
                }
                for tree in trees
            }
            added = med[new]["start ms CPU"] - med[old]["start ms CPU"]
            saved = med[old]["further typed ms CPU"] - med[new]["further typed ms CPU"]
            even = f"{added / saved:.2f}" if saved > 0 else "never"
            print(
                f"{kind} {mode}: start {added:+.2f} ms, each typed problem {-saved:+.2f} ms:"
                f" break-even at {even} typed problems a batch"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", help="source trees (PYTHONPATH), two to compare")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--count", type=int, default=None, help="40 a batch, 20 --single")
    parser.add_argument("--single", action="store_true", help="single run_tests runs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--single-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    count = args.count or (20 if args.single or args.single_worker else 40)
    if args.worker:
        worker(count)
    elif args.single_worker:
        single_worker(count)
    elif len(args.trees) != 2:
        parser.error("two source trees to compare, e.g. /tmp/old-tree/src src")
    else:
        main([os.path.abspath(tree) for tree in args.trees], args.rounds, count, args.single)
