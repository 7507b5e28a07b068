"""Plan limits and current usage for `GET /auth/me` (completed by the limits feature)."""

from __future__ import annotations

from typing import Any

from devcapsules.context import Context


async def summary(ctx: Context, user_id: str, plan: str) -> dict[str, Any]:
    return {}
