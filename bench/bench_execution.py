"""Code-execution latency, side by side: medians over N runs and ratios to the first row.

    .venv/bin/python bench/bench_execution.py [--runs 20]

Each row is a name and an async callable doing one unit of work; to add a row (e.g. the
HTTP endpoints through the local host) append a `Row` to `rows()` or pass extra rows to
`main()`. Runs are sequential, after one warm-up call per row (toolchain discovery,
the sandbox smoke test and page cache are not what we measure).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from devcapsules.executor import execute, run_tests
from devcapsules.executor.runner import workspace
from devcapsules.executor.sandbox import SANDBOX_PYTHON, SandboxLimits, run_sandboxed


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable[[], Awaitable[object]]


async def bare_process() -> None:
    proc = await asyncio.create_subprocess_exec(SANDBOX_PYTHON, "-c", "pass")
    await proc.wait()


async def bare_sandbox() -> None:
    with workspace({}) as workdir:  # owned by the sandbox uid, as bwrap needs
        result = await run_sandboxed(
            [SANDBOX_PYTHON, "-c", "pass"], workdir=workdir, limits=SandboxLimits()
        )
    assert result.exit_code == 0, result.stderr  # a failing sandbox would look fast


def add_tests(n: int) -> list[dict]:
    return [{"input": [i, i], "expected": 2 * i} for i in range(n)]


async def hello_world() -> None:
    result = await execute("print('Hello World')", "python")
    assert result.stdout == "Hello World\n", result


async def add_suite(n: int) -> None:
    result = await run_tests("def add(a, b): return a + b", add_tests(n), "python", "add")
    assert result.status == "passed", result


def rows() -> list[Row]:
    # Every row must check its outcome: a broken run is fast and would look like a win.
    return [
        Row("bare `python3 -c pass`", bare_process),
        Row("sandbox around `python3 -c pass`", bare_sandbox),
        Row("execute(): Python hello world", lambda: execute("print('Hello World')", "python")),
        Row(
            "run_tests(): 1 case",
            lambda: run_tests("def add(a, b): return a + b", add_tests(1), "python", "add"),
        ),
        Row(
            "run_tests(): 20 cases",
            lambda: run_tests("def add(a, b): return a + b", add_tests(20), "python", "add"),
        ),
    ]


async def measure(row: Row, runs: int) -> float:
    await row.call()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await row.call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def main(runs: int, extra: list[Row] | None = None) -> None:
    table = [(row.name, await measure(row, runs)) for row in [*rows(), *(extra or [])]]
    base = table[0][1]
    width = max(len(name) for name, _ in table)
    print(f"{'case':<{width}}  {'median ms':>10}  {'x first row':>11}")
    for name, median in table:
        print(f"{name:<{width}}  {median:>10.1f}  {median / base:>11.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
