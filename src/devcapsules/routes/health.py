"""`GET /health`: cheap liveness; `?deep=true` also checks every binding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, Response, json_response
from devcapsules.logs import utc_timestamp
from devcapsules.routing import Route

# KV reads are cheap and free of side effects; a probe key that never exists is fine.
KV_PROBE_KEY = "health:probe"


async def health(request: Request, ctx: Context) -> Response:
    body: dict[str, Any] = {
        "success": True,
        "status": "ok",
        "version": ctx.settings.version,
        "environment": ctx.settings.environment,
        "timestamp": utc_timestamp(),
    }
    if request.query.get("deep", "").lower() in ("1", "true", "yes"):
        checks = await run_checks(ctx.env)
        failed = [name for name, result in checks.items() if not result["ok"]]
        if failed:
            raise HTTPError(
                503,
                "health_check_failed",
                f"Failed checks: {', '.join(failed)}",
                details={"checks": checks},
            )
        body["checks"] = checks
    return json_response(body, headers={"Cache-Control": "no-store"})


async def run_checks(env: Env) -> dict[str, dict[str, Any]]:
    names = ("d1", "kv", "queue")
    probes = (_check_d1(env), _check_kv(env), _check_queue(env))
    results = await asyncio.gather(*(_timed(p) for p in probes))
    return dict(zip(names, results, strict=True))


async def _timed(probe: Awaitable[None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await probe
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


async def _check_d1(env: Env) -> None:
    _require(env.db, "D1 binding DB is not configured")
    value = await env.db.prepare("SELECT 1 AS ok").first("ok")
    if value != 1:
        raise RuntimeError(f"SELECT 1 returned {value!r}")


async def _check_kv(env: Env) -> None:
    _require(env.kv, "KV binding KV is not configured")
    await env.kv.get(KV_PROBE_KEY)


async def _check_queue(env: Env) -> None:
    # Sending a probe message would enqueue work; a configured producer is the check.
    _require(env.generation_queue, "Queue producer GENERATION_QUEUE is not configured")


def _require(binding: object, message: str) -> None:
    if binding is None:
        raise RuntimeError(message)


routes = [Route("/health", health, methods=["GET"], meta={"public": True, "tag": "health"})]
