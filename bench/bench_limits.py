"""What the rate limiter costs per request: latency and D1 round trips, side by side.

    .venv/bin/python bench/bench_limits.py [--requests 2000]

In-process (`app.handle`) on the real local bindings (SQLite D1 on disk, WAL), the same
app built twice: the default middleware chain, and the same chain without the rate
limiter. Limits are set high so every request is counted and none is refused. On the
edge a D1 round trip is the latency that matters (one network hop to the database);
the round-trip column is what to multiply by it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devcapsules.app import App, default_middleware
from devcapsules.bindings.env import Env
from devcapsules.bindings.sqlite_d1 import SqliteD1
from devcapsules.bindings.sqlite_kv import SqliteKV
from devcapsules.http import Request, Response, json_response
from devcapsules.local.migrations import apply_migrations
from devcapsules.logs import Logger
from devcapsules.routes import all_routes
from devcapsules.routing import Route
from devcapsules.services.accounts import sessions
from devcapsules.services.accounts.tokens import issue_access_token
from devcapsules.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
VARS = {
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "LOG_LEVEL": "error",
    "PLAN_FREE_REQUESTS_PER_MINUTE": "10000000",
    "PLAN_FREE_REQUESTS_PER_DAY": "10000000",
}


async def ping(request: Request, ctx) -> Response:
    return json_response({"success": True})


@dataclass
class Measurement:
    median_ms: float
    p95_ms: float
    round_trips: float


def build(settings: Settings, with_limiter: bool) -> App:
    stack = default_middleware(settings)
    if not with_limiter:
        stack = [mw for mw in stack if mw.__name__ != "rate_limit"]
    assert any(mw.__name__ == "rate_limit" for mw in stack) == with_limiter
    routes = [Route("/bench/ping", ping), *all_routes()]
    return App(settings, routes, middleware=stack, logger=Logger(level="error"))


async def measure(app: App, env: Env, make: Callable[[], Request], n: int) -> Measurement:
    for _ in range(20):  # warm-up: imports, statement caches, page cache
        await app.handle(make(), env)
    timings, trips_before = [], env.db.round_trips
    for _ in range(n):
        started = time.perf_counter()
        response = await app.handle(make(), env)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.body  # a refusal would look fast
    trips = (env.db.round_trips - trips_before) / n
    p95 = statistics.quantiles(timings, n=20)[18]
    return Measurement(statistics.median(timings), p95, trips)


def requests(token: str) -> dict[str, Callable[[], Request]]:
    auth = {"authorization": f"Bearer {token}"}
    return {
        "GET /bench/ping  anonymous": lambda: Request(
            "GET", "http://b/bench/ping", {}, b"", "1.2.3.4"
        ),
        "GET /bench/ping  JWT": lambda: Request("GET", "http://b/bench/ping", auth, b"", "1.2.3.4"),
        "GET /auth/me     JWT": lambda: Request(
            "GET", "http://b/api/v1/auth/me", auth, b"", "1.2.3.4"
        ),
    }


async def run(n: int, state: Path) -> None:
    db = SqliteD1(state / "DB.sqlite3")
    apply_migrations(db.connection, ROOT / "migrations")
    env = Env(vars=VARS, db=db, kv=SqliteKV(state / "KV.sqlite3"))
    settings = Settings.from_vars(VARS)
    apps = {False: build(settings, False), True: build(settings, True)}
    ctx = apps[True].context(env)
    user = await sessions.create_user(ctx, "bench@example.com", "Bench", "unused", "free")
    token, _ = issue_access_token(settings, user.id, user.plan, ctx.deps.clock.now())
    print(f"{n} sequential requests per cell, in-process app.handle, local SQLite D1\n")
    print(f"{'request':<28}{'limiter':>9}{'median ms':>11}{'p95 ms':>9}{'D1 trips/req':>14}")
    for name, make in requests(token).items():
        rows = {flag: await measure(app, env, make, n) for flag, app in apps.items()}
        for flag, m in rows.items():
            label = "on" if flag else "off"
            print(f"{name:<28}{label:>9}{m.median_ms:>11.3f}{m.p95_ms:>9.3f}{m.round_trips:>14.2f}")
        added = rows[True].median_ms - rows[False].median_ms
        trips = rows[True].round_trips - rows[False].round_trips
        print(f"{'':<28}{'added':>9}{added:>+11.3f}{'':>9}{trips:>+14.2f}\n")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        asyncio.run(run(args.requests, Path(state)))


if __name__ == "__main__":
    main()
