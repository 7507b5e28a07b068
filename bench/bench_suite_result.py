"""The typed test-run result's cost, beside the sandbox run it describes.

    .venv/bin/python bench/bench_suite_result.py [--runs 20] [--cases 1 20 100]

Every execution backend hands its test run on as `schemas.execution.SuiteResult` (issue
16: no dict -> SimpleNamespace round trip). For each suite size this prints, side by
side, medians of: the sandbox library's `run_tests` of that many cases (the anchor: what
the request pays anyway), the local backend's `suite_result` (building the typed result
from the library's), and that plus `model_dump(exclude_unset=True)` (what
`/execute/tests` sends), each with its ratio to the anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from devcapsules.executor import run_tests
from devcapsules.services.execution.local import suite_result

CODE = "def add(a, b):\n    return a + b\n"


def cases(n: int) -> list[dict]:
    # Every third one hidden, as in a capsule: its view carries fewer fields.
    return [{"input": [i, i], "expected": 2 * i, "hidden": i % 3 == 0} for i in range(n)]


def median_us(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


async def sandbox_us(n: int, runs: int) -> tuple[float, object]:
    await run_tests(CODE, cases(n), "python", "add")  # warm-up: discovery, page cache
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await run_tests(CODE, cases(n), "python", "add")
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cases", type=int, nargs="+", default=[1, 20, 100])
    args = parser.parse_args()
    print(f"{'cases':>5}  {'sandbox run (anchor)':>21}  {'typed result':>20}  {'+ wire dump':>20}")
    for n in args.cases:
        anchor, result = asyncio.run(sandbox_us(n, args.runs))
        assert result.status == "passed", result
        build = median_us(lambda ran=result: suite_result(ran), args.runs * 50)
        wire = median_us(
            lambda ran=result: suite_result(ran).model_dump(exclude_unset=True), args.runs * 50
        )
        print(
            f"{n:>5}  {anchor:>18.0f} us  {build:>9.1f} us ({build / anchor:6.2%})"
            f"  {wire:>9.1f} us ({wire / anchor:6.2%})"
        )


if __name__ == "__main__":
    main()
