"""Plan limits and current usage for `GET /auth/me`, in one D1 read.

Shape (limit/remaining are null when the plan has no cap on that window; for
requests, used is null too, as uncapped request windows are not counted):

    "limits": {"requestsPerMinute": 10, "requestsPerDay": 100, "generationsPerDay": 5},
    "usage": {
      "requests": {"minute": {used, limit, remaining, resetAt}, "day": {...}},
      "generations": {"day": {used, limit, remaining, resetAt}}
    }

The request that asks is already counted (the limiter runs before the route), so the
numbers agree with its `RateLimit-*` headers.
"""

from __future__ import annotations

from typing import Any

from devcapsules.context import Context
from devcapsules.services.plans import (
    epoch_iso,
    epoch_now,
    read_counts,
    window_reset,
    window_start,
)


async def summary(ctx: Context, user_id: str, plan: str) -> dict[str, Any]:
    limits = ctx.settings.limits
    caps = limits.for_plan(plan)
    now = epoch_now(ctx.deps.clock)
    windows = ("minute", "day", "generation_day")
    pairs = [(name, window_start(name, now)) for name in windows]
    counts = await read_counts(ctx.env.db, user_id, pairs)
    minute, day, generations = (
        _usage(counts[name], cap, window_reset(name, now), counted=cap is not None or generation)
        for name, cap, generation in (
            ("minute", caps.requests_per_minute, False),
            ("day", caps.requests_per_day, False),
            # Generations are counted even when unlimited, for the usage history.
            ("generation_day", caps.generations_per_day, True),
        )
    )
    return {
        "limits": caps.public(),
        "usage": {
            "requests": {"minute": minute, "day": day},
            "generations": {"day": generations},
        },
    }


def _usage(used: int, limit: int | None, reset_at: int, counted: bool) -> dict[str, Any]:
    # An uncapped request window is not counted at all (enterprise's day): used is null.
    return {
        "used": used if counted else None,
        "limit": limit,
        "remaining": None if limit is None else max(0, limit - used),
        "resetAt": epoch_iso(reset_at),
    }
