"""Queue consumers by queue name.

Environments name their queues with a suffix (`generation-jobs-staging`); the platform
delivers the batch under that name. `App` looks consumers up by exact name, so the
registry lists every environment's name for each base queue.

Handlers import their modules on first delivery: an isolate that only serves HTTP never
loads the generation stack (httpx, providers, the executor client).
"""

from __future__ import annotations

from typing import Any

from devcapsules.bindings.env import GENERATION_DLQ, GENERATION_QUEUE

# "" is development and production (wrangler.toml uses the bare names there).
ENVIRONMENT_SUFFIXES = ("", "-staging", "-production", "-development")


def base_queue_name(name: str) -> str:
    for suffix in ENVIRONMENT_SUFFIXES:
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)]
    return name


async def generation_jobs(batch: Any, ctx: Any) -> None:
    from devcapsules.services.generation.consumer import consume_generation_batch

    await consume_generation_batch(batch, ctx)


async def generation_dead_letters(batch: Any, ctx: Any) -> None:
    from devcapsules.services.generation.consumer import consume_dead_letters

    await consume_dead_letters(batch, ctx)


def consumers() -> dict[str, Any]:
    by_base = {GENERATION_QUEUE: generation_jobs, GENERATION_DLQ: generation_dead_letters}
    return {
        f"{base}{suffix}": handler
        for base, handler in by_base.items()
        for suffix in ENVIRONMENT_SUFFIXES
    }
