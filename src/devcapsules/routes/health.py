"""`GET /health`: cheap liveness; `?deep=true` also checks every binding.

Deep checks: D1 reads (`SELECT 1`) and writes (an upsert of one `health_probe` row: a
full or read-only database still answers reads), a KV read (KV writes are rationed,
1,000 a day on the free plan, so a probe never writes KV), and the queue producer's
configuration (a probe message would be work). Any failure is a 503 naming the failed
checks, with `Retry-After`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from devcapsules.bindings.env import Env
from devcapsules.context import Context
from devcapsules.http import HTTPError, Request
from devcapsules.logs import utc_timestamp
from devcapsules.routing import Reply, Route
from devcapsules.schemas.health import HealthResponse
from devcapsules.services import clock

# KV reads are cheap and free of side effects; a probe key that never exists is fine.
KV_PROBE_KEY = "health:probe"
WRITE_PROBE = (
    "INSERT INTO health_probe (id, checked_at, checks) VALUES ('deep', ?, 1) "
    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, checks = checks + 1"
)


async def health(request: Request, ctx: Context) -> Reply:
    body: dict[str, Any] = {
        "status": "ok",
        "version": ctx.settings.version,
        "environment": ctx.settings.environment,
        "timestamp": utc_timestamp(),
    }
    if request.query.get("deep", "").lower() in ("1", "true", "yes"):
        checks = await run_checks(ctx)
        failed = [name for name, result in checks.items() if not result["ok"]]
        if failed:
            raise HTTPError(
                503,
                "health_check_failed",
                f"Failed checks: {', '.join(failed)}",
                details={"failed": failed, "checks": checks},
            )
        body["checks"] = checks
    return Reply(body, headers={"Cache-Control": "no-store"})


class NotConfigured(Exception):
    """A binding is missing from the configuration (safe to tell the caller)."""


async def run_checks(ctx: Context) -> dict[str, dict[str, Any]]:
    env = ctx.env
    names: tuple[str, ...] = ("d1", "d1_write", "kv", "queue")
    probes: tuple[Awaitable[None], ...] = (
        _check_d1(env),
        _check_d1_write(env),
        _check_kv(env),
        _check_queue(env),
    )
    if _runs_code_here(ctx):
        names, probes = (*names, "sandbox"), (*probes, _check_sandbox())
    results = await asyncio.gather(*(_timed(n, p, ctx) for n, p in zip(names, probes, strict=True)))
    return dict(zip(names, results, strict=True))


async def _timed(name: str, probe: Awaitable[None], ctx: Context) -> dict[str, Any]:
    started = clock.monotonic()
    try:
        await probe
    except NotConfigured as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:
        # The exception text may name internals: it goes to the log, not to the caller.
        ctx.logger.error("health_check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
        return {"ok": False, "error": f"{name} is unavailable (see logs)"}
    return {"ok": True, "latencyMs": round((clock.monotonic() - started) * 1000, 2)}


async def _check_d1(env: Env) -> None:
    _require(env.db, "D1 binding DB is not configured")
    value = await env.db.prepare("SELECT 1 AS ok").first("ok")
    if value != 1:
        raise RuntimeError(f"SELECT 1 returned {value!r}")


async def _check_d1_write(env: Env) -> None:
    _require(env.db, "D1 binding DB is not configured")
    result = await env.db.prepare(WRITE_PROBE).bind(utc_timestamp()).run()
    if result["meta"]["changes"] != 1:
        raise RuntimeError(f"the probe upsert changed {result['meta']['changes']} rows")


async def _check_kv(env: Env) -> None:
    _require(env.kv, "KV binding KV is not configured")
    await env.kv.get(KV_PROBE_KEY)


async def _check_queue(env: Env) -> None:
    # Sending a probe message would enqueue work; a configured producer is the check.
    _require(env.generation_queue, "Queue producer GENERATION_QUEUE is not configured")


def _runs_code_here(ctx: Context) -> bool:
    return "local" in ctx.settings.execution.backends()


async def _check_sandbox() -> None:
    from devcapsules.executor import SandboxUnavailable
    from devcapsules.services.execution.local import sandbox_check

    try:
        await sandbox_check()
    except SandboxUnavailable as exc:  # the same text a refused /execute answers with
        raise NotConfigured(f"code execution is refused: {exc}") from None


def _require(binding: object, message: str) -> None:
    if binding is None:
        raise NotConfigured(message)


routes = [
    Route(
        "/health",
        health,
        methods=["GET"],
        response=HealthResponse,
        tags=("health",),
        summary="Liveness; ?deep=true also checks D1 reads and writes, KV, the queue producer "
        "and, where code runs in this process, the sandbox (503 naming the failed checks if not)",
        errors=(503,),
    )
]
