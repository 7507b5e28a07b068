"""Capsules API: requests/s over HTTP on the local host, and D1 round trips per request.

    .venv/bin/python bench/bench_capsules.py [--requests 500] [--concurrency 8] [--rows 200]

Part 1 starts `devcapsules dev` in a subprocess on a fresh state directory (as the HTTP
test suite does), seeds capsules through the API, and times list and get requests with
keep-alive connections: one client in sequence, then `--concurrency` clients at once.
Part 2 runs the same requests in-process against the instrumented SQLite D1 binding and
reports its round-trip counter per request (the number that is latency on the edge).
Figures only: nothing here asserts on time. Every timed request checks its status,
because a failing request is fast and would look like a win.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BASE = "/api/v1/capsules"
# The request budget is not what we measure.
UNLIMITED = {f"PLAN_FREE_REQUESTS_PER_{w}": "unlimited" for w in ("MINUTE", "DAY")}


def capsule(i: int) -> dict:
    return {
        "title": f"Capsule {i}: add two numbers",
        "description": "Return the sum of a and b",
        "problem": "Write `add(a, b)` that returns a + b.\n" * 5,
        "language": "python",
        "difficulty": ("easy", "medium", "hard")[i % 3],
        "starterCode": "def add(a, b):\n    pass\n",
        "solution": "def add(a, b):\n    return a + b\n",
        "functionName": "add",
        "testCases": [{"input": [n, n], "expected": 2 * n, "hidden": n > 3} for n in range(6)],
        "hints": ["Use +"],
        "tags": ["math", f"set{i % 5}"],
        "visibility": "public",
    }


@dataclass
class Case:
    name: str
    path: str
    headers: dict
    status: int = 200


def cases(ids: list[str], session: dict, etag: str) -> list[Case]:
    one = f"{BASE}/{ids[len(ids) // 2]}"
    return [
        Case("list, anonymous, limit=20", f"{BASE}?limit=20", {}),
        Case("list, owner session, limit=20", f"{BASE}?limit=20", session),
        Case("list, tag + q filters", f"{BASE}?limit=20&tag=set1&q=add", session),
        Case("get, anonymous", one, {}),
        Case("get, owner session", one, session),
        Case("get, If-None-Match (304)", one, {**session, "If-None-Match": etag}, 304),
    ]


def seed_http(client: httpx.Client, rows: int, state_dir: Path) -> tuple[list[str], dict]:
    email = f"bench{time.time_ns()}@example.com"
    account = {"email": email, "password": "correct horse battery", "name": "Bench"}
    token = client.post("/api/v1/auth/register", json=account).json()["accessToken"]
    session = {"Authorization": f"Bearer {token}"}
    ids = []
    for i in range(rows):
        response = client.post(BASE, json=capsule(i), headers=session)
        assert response.status_code == 201, response.text
        ids.append(response.json()["capsule"]["id"])
    # Publish straight in the database: POST /publish would time the executor too.
    with sqlite3.connect(state_dir / "d1" / "DB.sqlite3") as db:
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("UPDATE capsules SET status = 'published'")
    return ids, session


def sequential(client: httpx.Client, case: Case, n: int) -> tuple[float, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(case.path, headers=case.headers)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == case.status, response.text
    return n / (time.perf_counter() - started), statistics.median(latencies)


async def concurrent(base: str, case: Case, n: int, workers: int) -> float:
    async def worker(client: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            response = await client.get(case.path, headers=case.headers)
            assert response.status_code == case.status, response.text

    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, n // workers) for _ in range(workers)))
        return (n // workers * workers) / (time.perf_counter() - started)


def http_part(requests: int, workers: int, rows: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.server import dev_server

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        with dev_server(state, UNLIMITED) as base, httpx.Client(base_url=base) as client:
            ids, session = seed_http(client, rows, state)
            one = f"{BASE}/{ids[len(ids) // 2]}"
            etag = client.get(one, headers=session).headers["etag"]
            print(f"HTTP, local host ({rows} capsules, {requests} requests per row)")
            print(f"{'case':<32} {'req/s (1 client)':>17} {'p50 ms':>7} {'req/s':>8} (x{workers})")
            for case in cases(ids, session, etag):
                sequential(client, case, 20)  # warm-up
                rate, p50 = sequential(client, case, requests)
                parallel = asyncio.run(concurrent(base, case, requests, workers))
                print(f"{case.name:<32} {rate:>17.0f} {p50:>7.2f} {parallel:>8.0f}")


async def round_trips_part(rows: int) -> None:
    sys.path.insert(0, str(ROOT))
    from devcapsules.app import build_app
    from devcapsules.http import Request
    from devcapsules.settings import Settings
    from tests.support.bindings import open_sqlite_env

    vars = {"JWT_SECRET": "bench-" + "x" * 40, "LOG_LEVEL": "error", **UNLIMITED}
    with tempfile.TemporaryDirectory() as tmp, open_sqlite_env(Path(tmp), vars) as env:
        app = build_app(Settings.from_vars(env.vars))
        db = env.db

        async def call(method: str, path: str, headers: dict, body=None):
            data = json.dumps(body).encode() if body is not None else b""
            if body is not None:  # JSON routes answer 415 to a body of no declared type
                headers = {**headers, "Content-Type": "application/json"}
            request = Request(method, f"http://bench{path}", headers, data, "203.0.113.1")
            before = db.round_trips
            response = await app.handle(request, env)
            await asyncio.sleep(0)  # let wait_until work start, as it would count
            return response, db.round_trips - before

        account = {"email": "rt@example.com", "password": "correct horse battery", "name": "R"}
        registered, _ = await call("POST", "/api/v1/auth/register", {}, account)
        session = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
        ids = []
        for i in range(rows):
            created, _ = await call("POST", BASE, session, capsule(i))
            ids.append(created.json()["capsule"]["id"])
        db.connection.execute("UPDATE capsules SET status = 'published'")
        _, baseline = await call("GET", "/api/v1/no-such-route", session)
        etag = (await call("GET", f"{BASE}/{ids[0]}", session))[0].headers["etag"]
        print(f"\nD1 round trips per request (in-process; middleware share: {baseline})")
        for case in cases(ids, session, etag):
            response, trips = await call("GET", case.path, case.headers)
            assert response.status == case.status, response.body
            print(f"{case.name:<32} {trips:>3}")
        one = f"{BASE}/{ids[1]}"
        writes = [
            ("create (POST)", "POST", BASE, capsule(0), 201),
            ("update (PATCH title + tags)", "PATCH", one, {"title": "T", "tags": ["x"]}, 200),
            ("duplicate (POST)", "POST", f"{one}/duplicate", None, 201),
            ("delete (DELETE)", "DELETE", one, None, 204),
        ]
        for name, method, path, body, status in writes:
            response, trips = await call(method, path, session, body)
            assert response.status == status, response.body
            print(f"{name:<32} {trips:>3}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    http_part(args.requests, args.concurrency, args.rows)
    asyncio.run(round_trips_part(min(args.rows, 50)))


if __name__ == "__main__":
    main()
