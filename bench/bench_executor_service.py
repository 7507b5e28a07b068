"""The executor service under load: hello world against `devcapsules executor serve`.

    .venv/bin/python bench/bench_executor_service.py [--seconds 5] [--concurrency 2]

Starts the service as a real subprocess on a dynamic port (its documented defaults:
`--concurrency` runs at once, queue depth 4 x that), then keeps 4 and 16 clients busy,
each on its own keep-alive connection, posting Python hello world. Prints requests/s,
p50/p99 latency, and how many were refused (503 + Retry-After: beyond concurrency + queue
depth) next to the anchor: the same hello world through `LocalExecutor.execute` in this
process, one at a time, measured in the same run (ratio = service p50 / anchor p50).
Figures only; every answer's status is checked (a failure is fast and would look good).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devcapsules.services.execution.local import LocalExecutor  # noqa: E402
from devcapsules.services.plans import PlanTable  # noqa: E402
from tests.support.server import executor_service_process  # noqa: E402

KEY = "bench-executor-key-" + "k" * 32
HELLO = {"source_code": "print('Hello World')", "language": "python", "time_limit": 10}


def p50_p99(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (samples[0], samples[0]) if samples else (float("nan"), float("nan"))
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


async def client(base: str, deadline: float, latencies: list[float], refused: list[int]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await http.post("/api/v1/execute", json=HELLO)
            if response.status_code == 503:
                assert "Retry-After" in response.headers
                refused[0] += 1
                await asyncio.sleep(float(response.headers["Retry-After"]))
                continue
            assert response.status_code == 200, response.text
            assert response.json()["stdout"] == "Hello World\n", response.text
            latencies.append((time.perf_counter() - started) * 1000)


async def load(base: str, clients: int, seconds: float) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    refused = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client(base, deadline, latencies, refused) for _ in range(clients)))
    rps = len(latencies) / (time.perf_counter() - started)
    return (rps, *p50_p99(latencies), refused[0])


async def anchor(n: int) -> tuple[float, float, float]:
    executor, limits = LocalExecutor(), PlanTable().ceiling().clamp(10, None)
    await executor.execute("pass", "python", stdin="", limits=limits)  # toolchain discovery
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        result = await executor.execute(HELLO["source_code"], "python", stdin="", limits=limits)
        assert result["status"] == "ok", result
        samples.append((time.perf_counter() - t) * 1000)
    return (n / (time.perf_counter() - started), *p50_p99(samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=2, help="the service's (CPUs here)")
    args = parser.parse_args()
    depth = 4 * args.concurrency
    base_rps, base_p50, base_p99 = asyncio.run(anchor(30))
    print(
        f"executor service: --concurrency {args.concurrency}, queue depth {depth} (default"
        f" 4 x concurrency); Python hello world, {args.seconds:.0f} s per row\n"
    )
    print(f"{'load':<30}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'503s':>6}{'p50 ratio':>11}")
    print(f"{'sandbox alone, sequential':<30}{base_rps:>8.1f}{base_p50:>9.1f}{base_p99:>9.1f}")
    with (
        tempfile.TemporaryDirectory() as logs,
        executor_service_process(Path(logs), KEY, "--concurrency", str(args.concurrency)) as (
            base,
            _,
        ),
    ):
        asyncio.run(load(base, 2, 1.0))  # warm-up: toolchain discovery, connections
        for clients in (4, 16):
            rps, p50, p99, refused = asyncio.run(load(base, clients, args.seconds))
            name = f"service, {clients} clients"
            print(f"{name:<30}{rps:>8.1f}{p50:>9.1f}{p99:>9.1f}{refused:>6}{p50 / base_p50:>11.2f}")
    print(
        f"\n(16 clients > concurrency + queue depth = {args.concurrency + depth}: the rest are"
        " refused with 503 + Retry-After and retry after it)"
    )


if __name__ == "__main__":
    main()
