"""Response model of `GET /health` (routes/health.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from devcapsules.schemas import Body


class HealthCheck(BaseModel):
    """One deep check: `latencyMs` when it passed, `error` (safe to show) when not."""

    ok: bool
    latencyMs: float | None = None
    error: str | None = None


class HealthResponse(Body):
    success: Literal[True] = True
    status: Literal["ok"]
    version: str
    environment: str
    timestamp: str
    checks: dict[str, HealthCheck] | None = None  # with ?deep=true
