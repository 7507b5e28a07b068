"""Cost of the request path: our chain + router vs. a minimal Starlette app doing the same,
and vs. a raw ASGI app that does nothing but answer (the server's own ceiling).

Prints, side by side:
  1. in-process µs per `GET /health` (no network, no server);
  2. HTTP requests/s for `GET /health` under the same server (our hosts' uvicorn set-up:
     `local.http_server.uvicorn_server` on `run_event_loop`, i.e. httptools + uvloop where
     installed) and the same load client;
  3. the server thread's CPU time per request over HTTP (its own clock, so load from
     other processes on a shared machine does not count, unlike requests/s).
The Starlette app does the same work: request id, a JSON access-log line (to the
same null sink), CORS, error handling, and the same JSON body. The raw ASGI app sends
the same body with no middleware at all. Goal (issue 17): ours >= 0.8 x raw over HTTP.
A fourth server, ours without its middleware (the same adapter, static assets, router,
handler and body serialiser; no request id, access line, CORS, limits), shows how much
of the gap the layers make and how much the rest of the path already takes.

Run: .venv/bin/python bench/bench_core.py [--seconds 3] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import measure_rps

from devcapsules.app import App, build_app
from devcapsules.bindings.env import Env
from devcapsules.http import Request
from devcapsules.local.asgi import AsgiAdapter
from devcapsules.local.config import load_config
from devcapsules.local.http_server import (
    best_parser,
    event_loop_factory,
    run_event_loop,
    uvicorn_server,
)
from devcapsules.local.static_assets import StaticAssets
from devcapsules.logs import Logger, utc_timestamp
from devcapsules.settings import AuthSettings, CorsSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
ORIGINS = ("http://localhost:3000",)


def null_sink(line: str) -> None:
    pass


def our_app():
    settings = Settings(cors=CorsSettings(ORIGINS), auth=AuthSettings("x" * 40))
    return build_app(settings, logger=Logger(sink=null_sink))


def starlette_app():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(request):
        body = {
            "success": True,
            "status": "ok",
            "version": "0.1.0",
            "environment": "development",
            "timestamp": utc_timestamp(),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    class RequestIdAndLog(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            request_id = "req_" + secrets.token_hex(12)
            started = time.perf_counter()
            try:
                response = await call_next(request)
            except Exception:
                response = JSONResponse({"success": False}, status_code=500)
            null_sink(
                json.dumps(
                    {
                        "level": "info",
                        "action": "request",
                        "requestId": request_id,
                        "method": request.method,
                        "path": request.url.path,
                        "status": response.status_code,
                        "durationMs": (time.perf_counter() - started) * 1000,
                        "timestamp": utc_timestamp(),
                    }
                )
            )
            response.headers["X-Request-Id"] = request_id
            return response

    return Starlette(
        routes=[Route("/health", health)],
        middleware=[
            Middleware(RequestIdAndLog),
            Middleware(CORSMiddleware, allow_origins=list(ORIGINS)),
        ],
    )


def health_body() -> bytes:
    return json.dumps(
        {
            "success": True,
            "status": "ok",
            "version": "0.1.0",
            "environment": "development",
            "timestamp": utc_timestamp(),
        }
    ).encode()


# The same response head ours sends (request id aside): the anchor differs in code only,
# not in bytes on the wire.
RAW_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-type", b"application/json; charset=utf-8"),
    (b"vary", b"Origin"),
    (b"x-request-id", b"req_000000000000000000000000"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


async def raw_asgi_app(scope, receive, send) -> None:
    """The anchor: the least an ASGI app can do to answer `/health` (and lifespan) with
    the same bytes as ours."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = health_body()
    headers = [*RAW_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def asgi_call(app, path: str = "/health") -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "root_path": "",
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    await app(scope, receive, send)


def in_process_us(requests: int) -> tuple[float, float]:
    app = our_app()
    env = Env()
    starlette = starlette_app()

    async def ours():
        for _ in range(requests):
            await app.handle(Request("GET", "http://bench/health"), env)

    async def theirs():
        for _ in range(requests):
            await asgi_call(starlette)

    return _median_us(ours, requests), _median_us(theirs, requests)


def _median_us(factory, requests: int, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        asyncio.run(factory())
        samples.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(samples)


def serve(name: str) -> None:
    """The child: one app under our hosts' server set-up on a dynamic port, announced on
    stderr. Ours logs its access lines to stdout as `devcapsules dev` does (the parent
    points stdout at /dev/null): the real sink, a write per request, not a null one."""
    if name in ("ours", "bare"):
        settings = Settings(cors=CorsSettings(ORIGINS), auth=AuthSettings("x" * 40))
        config = load_config(ROOT, None)
        assets = StaticAssets(config.assets) if config.assets else None
        built = build_app(settings)
        if name == "bare":  # the same app without its middleware
            built = App(settings, built.router, middleware=[], dependencies=built.deps)
        app = AsgiAdapter(built, Env(), assets=assets)
    else:
        app = {"starlette": starlette_app, "raw": lambda: raw_asgi_app}[name]()
    server = uvicorn_server(app, "127.0.0.1", 0)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"port {port}", file=sys.stderr, flush=True)

    async def main() -> None:
        task = asyncio.ensure_future(announce())
        await server.serve()
        await task

    run_event_loop(main())


@contextlib.contextmanager
def server_process(name: str):
    """(port, pid) of a server in its own process: its own interpreter and GIL, so the
    load client in this process neither shares its lock nor its CPU time."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stderr.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"{name} server did not start: {line}{child.stderr.read()}")
        yield int(line.split()[1]), child.pid
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(10)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc, clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_rps(name: str, seconds: float, pipeline: int) -> tuple[float, float, float]:
    """(requests/s, server CPU µs per request, client CPU µs per request)."""
    with server_process(name) as (port, pid):
        # Warm-up: the first requests pay imports and the first connections.
        run_event_loop(measure_rps("127.0.0.1", port, "/health", 0.3, pipeline=pipeline))
        server_before, client_before = process_cpu_s(pid), time.process_time()
        started = time.perf_counter()
        rps = run_event_loop(measure_rps("127.0.0.1", port, "/health", seconds, pipeline=pipeline))
        served = rps * (time.perf_counter() - started)
        server_us = (process_cpu_s(pid) - server_before) / served * 1e6
        client_us = (time.process_time() - client_before) / served * 1e6
    return rps, server_us, client_us


def interleaved_rps(names: list[str], seconds: float, pipeline: int, rounds: int = 3) -> dict:
    """Median of `rounds` alternating runs per app: on a shared machine, load from others
    then falls on every app alike instead of on whichever ran during it."""
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            samples[name].append(http_rps(name, seconds / rounds, pipeline))
    return {
        name: tuple(statistics.median(figure) for figure in zip(*values, strict=True))
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--pipeline", type=int, default=4)
    parser.add_argument(
        "--serve", choices=("ours", "starlette", "raw", "bare"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    ours_us, theirs_us = in_process_us(args.requests)
    rps = interleaved_rps(["ours", "starlette", "raw", "bare"], args.seconds, args.pipeline)
    (ours_rps, ours_cpu, ours_client), (theirs_rps, _, _), (raw_rps, raw_cpu, raw_client) = (
        rps["ours"],
        rps["starlette"],
        rps["raw"],
    )
    bare_rps, bare_cpu, _ = rps["bare"]
    loop = "uvloop" if event_loop_factory() else "asyncio"
    print(f"server: uvicorn, parser {best_parser()}, loop {loop}, in its own process")
    print(
        f"load: this process, 8 keep-alive connections, {args.pipeline} requests pipelined"
        " per write\n"
    )
    print(f"{'GET /health':<34}{'devcapsules':>14}{'starlette':>14}{'ratio':>9}")
    print(
        f"{'in-process (µs/request, median)':<34}{ours_us:>14.1f}{theirs_us:>14.1f}"
        f"{ours_us / theirs_us:>9.2f}"
    )
    print(
        f"{'HTTP on uvicorn (requests/s)':<34}{ours_rps:>14.0f}{theirs_rps:>14.0f}"
        f"{ours_rps / theirs_rps:>9.2f}"
    )
    print(
        "(ratio = devcapsules / starlette: below 1 is faster in-process, above 1 is faster"
        " over HTTP)\n"
    )
    print(f"{'GET /health over HTTP':<34}{'devcapsules':>14}{'raw ASGI':>14}{'ratio':>9}")
    print(
        f"{'requests/s, same server':<34}{ours_rps:>14.0f}{raw_rps:>14.0f}"
        f"{ours_rps / raw_rps:>9.2f}"
    )
    print(
        f"{'server CPU µs/request':<34}{ours_cpu:>14.1f}{raw_cpu:>14.1f}{raw_cpu / ours_cpu:>9.2f}"
    )
    print(f"{'load client CPU µs/request':<34}{ours_client:>14.1f}{raw_client:>14.1f}")
    print(
        f"{'without our middleware: req/s':<34}{bare_rps:>14.0f}{raw_rps:>14.0f}"
        f"{bare_rps / raw_rps:>9.2f}"
    )
    print(
        f"{'without our middleware: CPU µs':<34}{bare_cpu:>14.1f}{raw_cpu:>14.1f}"
        f"{raw_cpu / bare_cpu:>9.2f}"
    )
    print(
        "(ratio = devcapsules / a raw ASGI app under the same server, in requests/s and in"
        " requests per server CPU second; goal >= 0.80. The client must cost less CPU per"
        " request than the server it drives, or it, not the server, sets the rate)"
    )


if __name__ == "__main__":
    main()
