"""Analytics: ingestion events/s and the read latency of a 90-day capsule report.

    .venv/bin/python bench/bench_analytics.py [--events 20000] [--reads 200] [--sessions 3000]

In-process, through `app.handle` (the whole middleware chain, auth and rate limiter
included) against the local SQLite D1/KV bindings on disk, as the dev host runs:
1. ingestion: batches of 100 events (with 10% duplicates) from a user session,
   spread over 90 days, 4 capsules and `--sessions` sessions; events/s and ms/batch;
2. a 90-day capsule report, uncached (KV key deleted before each read) and cached
   (KV hit), p50/p95 ms, plus D1/KV round trips per request.
Figures only: nothing asserts on time. Every timed request checks its status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The repository root, for the test suite's binding helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devcapsules.app import build_app
from devcapsules.http import Request
from devcapsules.logs import Logger
from devcapsules.services.analytics import cache
from devcapsules.settings import Settings
from tests.support.bindings import open_sqlite_env

VARS = {
    "ENVIRONMENT": "development",
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "PBKDF2_ITERATIONS": "1000",
    # The request budget is not what we measure.
    "PLAN_FREE_REQUESTS_PER_MINUTE": "unlimited",
    "PLAN_FREE_REQUESTS_PER_DAY": "unlimited",
}
TYPES = ["capsule_view"] * 4 + ["code_run"] * 3 + ["test_run"] * 3 + ["capsule_completed"]


class Bench:
    def __init__(self, env):
        self.env = env
        settings = Settings.from_vars(VARS)
        self.app = build_app(settings, logger=Logger(level="error", sink=lambda line: None))
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, body=None, status=(200,)):
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"content-type": "application/json", **self.headers}
        request = Request(method, f"http://bench{path}", headers, data)
        response = await self.app.handle(request, self.env)
        if response.status not in status:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body[:200]!r}")
        return response.json() if response.body else None

    async def setup(self, capsules: int) -> list[str]:
        account = {"email": "bench@example.com", "password": "correct horse", "name": "B"}
        session = await self.call("POST", "/api/v1/auth/register", account, (201,))
        self.headers = {"Authorization": f"Bearer {session['accessToken']}"}
        ids = []
        for n in range(capsules):
            body = {"title": f"Bench {n}", "language": "python", "visibility": "public"}
            ids.append((await self.call("POST", "/api/v1/capsules", body, (201,)))["capsule"]["id"])
        return ids


def make_events(rng: random.Random, ids: list[str], count: int, sessions: int) -> list[dict]:
    now = datetime.now(UTC)
    events = []
    for n in range(count):
        kind = rng.choice(TYPES)
        total = rng.randint(1, 5)
        props = {"passed": rng.choice([total, 0]), "total": total} if kind == "test_run" else {}
        moment = now - timedelta(seconds=rng.randrange(60, 89 * 86_400))
        events.append(
            {
                "id": f"b{n}",
                "type": kind,
                "capsuleId": rng.choice(ids),
                "sessionId": f"s{rng.randrange(sessions)}",
                "timestamp": moment.isoformat(),
                "properties": props,
            }
        )
    return events


async def bench_ingest(bench: Bench, events: list[dict], rng: random.Random) -> None:
    batches = []
    for start in range(0, len(events), 90):
        chunk = events[start : start + 90]
        batches.append(chunk + rng.sample(events[: start + 90], 10))  # 10% duplicates
    db = bench.env.db
    trips = db.round_trips
    started = time.perf_counter()
    for batch in batches:
        result = await bench.call("POST", "/api/v1/analytics/events", {"events": batch})
        assert not result["rejected"], result["rejected"][:2]
    elapsed = time.perf_counter() - started
    sent = sum(len(b) for b in batches)
    print(f"ingestion: {sent} events in {len(batches)} batches of 100 (10% duplicates)")
    print(f"  {sent / elapsed:,.0f} events/s   {elapsed / len(batches) * 1000:.2f} ms/batch")
    print(f"  D1 round trips per batch: {(db.round_trips - trips) / len(batches):.2f}")


async def bench_report(bench: Bench, capsule_id: str, reads: int) -> None:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=89)
    path = f"/api/v1/analytics/capsules/{capsule_id}?from={start}&to={today}"
    key = cache.report_key(capsule_id, str(start), str(today))
    report = await bench.call("GET", path)
    await asyncio.sleep(0)  # the warm-up's cache write is not a measured request's
    print(f"90-day report of one capsule: {report['views']} views, {report['testRuns']} test runs")
    for label, uncached in (("uncached", True), ("cached", False)):
        timings, d1, kv = [], bench.env.db.round_trips, bench.env.kv.round_trips
        for _ in range(reads):
            if uncached:
                await bench.env.kv.delete(key)
                kv += 1  # the delete is the benchmark's, not the request's
            started = time.perf_counter()
            await bench.call("GET", path)
            timings.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0)  # let the wait_until cache write run
        p50 = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20)[-1]
        trips = (bench.env.db.round_trips - d1) / reads, (bench.env.kv.round_trips - kv) / reads
        print(f"  {label:9s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   ", end="")
        print(f"D1 {trips[0]:.2f} + KV {trips[1]:.2f} round trips/request")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as state, open_sqlite_env(Path(state), VARS) as env:
        bench = Bench(env)
        ids = await bench.setup(4)
        rng = random.Random(7)
        events = make_events(rng, ids, args.events, args.sessions)
        await bench_ingest(bench, events, rng)
        await bench_report(bench, ids[0], args.reads)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=3_000)
    asyncio.run(main(parser.parse_args()))
