"""Code-execution latency, side by side: medians over N runs and ratios to the first row.

    .venv/bin/python bench/bench_execution.py [--runs 20]

Each row is a name and an async callable doing one unit of work; to add a row (e.g. the
HTTP endpoints through the local host) append a `Row` to `rows()` or pass extra rows to
`main()`. Runs are sequential, after one warm-up call per row (toolchain discovery,
the sandbox smoke test and page cache are not what we measure).

The HTTP rows start the real local host (`devcapsules dev`, local backend) and, for the
hybrid row, `devcapsules executor serve` plus a second local host whose default backend
is `remote`: API -> executor service -> sandbox, the path the Worker takes. Plan request
limits are lifted for these servers (PLAN_FREE_* vars) so the bench measures execution,
not the rate limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _cold_path
from _http import LeanClient

from devcapsules.executor import execute, run_tests
from devcapsules.executor.runner import workspace
from devcapsules.executor.sandbox import (
    SANDBOX_PYTHON,
    SandboxLimits,
    detect_sandbox,
    run_sandboxed,
)


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable[[], Awaitable[object]]


async def bare_process() -> None:
    proc = await asyncio.create_subprocess_exec(SANDBOX_PYTHON, "-c", "pass")
    await proc.wait()


async def bare_sandbox() -> None:
    with workspace({"main.py": "pass"}) as workdir:  # owned by the sandbox uid, as bwrap needs
        result = await run_sandboxed(
            [SANDBOX_PYTHON, "main.py"], workdir=workdir, limits=SandboxLimits()
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
        Row("sandbox around `python3 main.py` (pass)", bare_sandbox),
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


# ---------------------------------------------------------------- over HTTP

ROOT = Path(__file__).resolve().parents[1]
UNLIMITED = {
    "PLAN_FREE_REQUESTS_PER_MINUTE": "unlimited",
    "PLAN_FREE_REQUESTS_PER_DAY": "unlimited",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], health: str) -> Iterator[subprocess.Popen]:
    """`devcapsules <args>` with `env` added, once `health` answers 200."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devcapsules.local.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{args[0]} did not start")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def local_host(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`devcapsules dev` on a free port with a throw-away state directory."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        args = ["dev", "--port", str(port), "--state-dir", state]
        env = {**UNLIMITED, "LOG_LEVEL": "error", **(extra_env or {})}
        with _process(args, env, f"http://127.0.0.1:{port}/health"):
            yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def executor_service(key: str) -> Iterator[str]:
    port = _free_port()
    env = {"AWS_EXECUTOR_API_KEY": key, "LOG_LEVEL": "error"}
    with _process(
        ["executor", "serve", "--port", str(port)], env, f"http://127.0.0.1:{port}/health"
    ):
        yield f"http://127.0.0.1:{port}"


HTTPX_COLD_ROW = "POST /execute hello world (local host, cold, through httpx)"
COLD_GOAL_ROWS = (
    "execute(): Python hello world",
    "POST /execute hello world (local host, cold)",
    HTTPX_COLD_ROW,  # a reference: the same request, the bench's httpx client's CPU in it
)
HELLO_BODY = {"source_code": "print('Hello World')", "language": "python", "time_limit": 10}


def http_rows(client: LeanClient, label: str) -> list[Row]:
    """Timed through the lean client (bench/_http.py): what the host costs, not httpx."""

    async def hello() -> None:
        _, answer = await client.post("/api/v1/execute", HELLO_BODY)
        assert answer.get("stdout") == "Hello World\n", answer

    async def suite(n: int) -> None:
        body = {
            "userCode": "def add(a, b): return a + b",
            "testCases": add_tests(n),
            "language": "python",
            "functionName": "add",
        }
        _, answer = await client.post("/api/v1/execute/tests", body)
        assert answer.get("summary", {}).get("status") == "passed", answer

    return [
        Row(f"POST /execute hello world ({label})", hello),
        Row(f"POST /execute/tests 1 case ({label})", lambda: suite(1)),
        Row(f"POST /execute/tests 20 cases ({label})", lambda: suite(20)),
    ]


async def main_with_http(runs: int, remote: bool) -> None:
    key = secrets.token_urlsafe(32)
    with contextlib.ExitStack() as stack:
        local = stack.enter_context(local_host({"EXECUTOR_WARM_POOL": "0"}))
        warm_local = stack.enter_context(local_host({"EXECUTOR_WARM_POOL": "python=2"}))
        clients = [LeanClient(local), LeanClient(warm_local)]
        extra = http_rows(clients[0], "local host, cold")
        extra += http_rows(clients[1], "local host, warm pool")
        httpx_client = httpx.AsyncClient(timeout=60)

        async def hello_through_httpx() -> None:  # the reference: the client's own cost
            response = await httpx_client.post(f"{local}/api/v1/execute", json=HELLO_BODY)
            assert response.json().get("stdout") == "Hello World\n", response.text

        extra.append(Row(HTTPX_COLD_ROW, hello_through_httpx))
        if remote:
            service = stack.enter_context(executor_service(key))
            hybrid_env = {
                "EXECUTOR_BACKEND_DEFAULT": "remote",
                "EXECUTOR_URL": service,
                "AWS_EXECUTOR_API_KEY": key,
            }
            hybrid = stack.enter_context(local_host(hybrid_env))
            clients.append(LeanClient(hybrid))
            extra += http_rows(clients[-1], "via executor service")
        try:
            await main(runs, extra)
        finally:
            await httpx_client.aclose()
            for client in clients:
                await client.aclose()


async def measure(row: Row, runs: int) -> tuple[float, float]:
    await row.call()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await row.call()
        samples.append((time.perf_counter() - started) * 1000)
        if "warm" in row.name:
            await asyncio.sleep(0.05)  # the pool refills between requests, as between users
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def print_cold_goal(cold_rows: list[Row], runs: int) -> None:
    """The cold goal (p50 <= 1.2x the minimal bwrap spawn), each cold row interleaved with
    the anchor round by round: the table above measures row after row, and on a shared
    machine a row and an anchor taken a minute apart see different loads."""
    minimal = [*_cold_path._minimal(detect_sandbox().path), *_cold_path.HELLO]

    async def anchor() -> None:
        _cold_path._spawn(minimal)

    samples: dict[str, list[float]] = {name: [] for name in ["anchor", *COLD_GOAL_ROWS]}
    calls = [("anchor", anchor), *((row.name, row.call) for row in cold_rows)]
    for round_ in range(runs + 1):  # round 0: warm-up
        for name, call in calls:
            started = time.perf_counter()
            await call()
            if round_:
                samples[name].append((time.perf_counter() - started) * 1000)
    base, base_p99 = _cold_path._stats(samples["anchor"])
    for name, _ in calls[1:]:
        p50, p99 = _cold_path._stats(samples[name])
        print(
            f"goal cold {name} p50 <= 1.2x minimal bwrap spawn (interleaved): p50 {p50:.1f} / "
            f"p99 {p99:.1f} ms vs anchor {base:.1f} / {base_p99:.1f} ms: {p50 / base:.2f}x"
        )


async def main(runs: int, extra: list[Row] | None = None) -> None:
    layers = await _cold_path.breakdown(runs)
    _cold_path.print_breakdown(layers)
    print()
    table = [(row.name, *await measure(row, runs)) for row in [*rows(), *(extra or [])]]
    base = table[0][1]
    width = max(len(name) for name, *_ in table)
    print(f"{'case':<{width}}  {'p50 ms':>7}  {'p99 ms':>7}  {'x first row':>11}")
    for name, median, p99 in table:
        print(f"{name:<{width}}  {median:>7.1f}  {p99:>7.1f}  {median / base:>11.1f}")
    by_name = {name: median for name, median, _ in table}
    warm_http = by_name.get("POST /execute hello world (local host, warm pool)")
    cold_http = by_name.get("POST /execute hello world (local host, cold)")
    anchor = layers[0][1]
    cold_rows = [r for r in [*rows(), *(extra or [])] if r.name in COLD_GOAL_ROWS]
    await print_cold_goal(cold_rows, runs)
    if warm_http is not None and cold_http is not None:
        print(
            f"goal warm POST /execute hello world p50 <= 10 ms: {warm_http:.1f} ms "
            f"(cold {cold_http:.1f} ms; minimal bwrap spawn {anchor:.1f} ms: "
            f"warm {warm_http / anchor:.2f}x, cold {cold_http / anchor:.2f}x)"
        )
        for n in (1, 20):
            label = f"POST /execute/tests {n} case{'s' if n > 1 else ''}"
            warm_tests = by_name[f"{label} (local host, warm pool)"]
            cold_tests = by_name[f"{label} (local host, cold)"]
            print(
                f"{label}: warm {warm_tests:.1f} ms, cold {cold_tests:.1f} ms "
                f"(warm/cold {warm_tests / cold_tests:.2f}x; minimal bwrap spawn {anchor:.1f} "
                f"ms: warm {warm_tests / anchor:.2f}x, cold {cold_tests / anchor:.2f}x)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-http", action="store_true", help="library rows only")
    parser.add_argument("--no-remote", action="store_true", help="skip the executor-service rows")
    options = parser.parse_args()
    if options.no_http:
        asyncio.run(main(options.runs))
    else:
        asyncio.run(main_with_http(options.runs, remote=not options.no_remote))
