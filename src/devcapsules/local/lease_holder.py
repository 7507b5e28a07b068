"""The local host's generation-lease holder id, kept in the state dir.

A local host is the only consumer of its state dir's queue (the queue store redelivers
every in-flight message at start-up on the same assumption), so the holder recorded
there when a host starts is, at the next start, a host that is gone: its jobs are given
back at once instead of after their leases. Were it somehow still running, the fencing
token (the claim number) would keep its late writes out.
"""

from __future__ import annotations

from pathlib import Path

from devcapsules.bindings.env import Env
from devcapsules.logs import Logger
from devcapsules.services.clock import Clock
from devcapsules.services.generation import jobs

HOLDER_FILE = "lease-holder"


async def take_over_predecessor(env: Env, state_dir: Path, logger: Logger, clock: Clock) -> int:
    """Record this process as the holder; release what the previous one held."""
    path = state_dir / HOLDER_FILE
    previous = path.read_text().strip() if path.is_file() else ""
    current = jobs.process_holder()
    path.write_text(current)
    if not previous or previous == current or env.db is None:
        return 0
    released = await jobs.release_holder(env.db, previous, now=clock.now())
    if released:
        logger.info("generation_jobs_taken_over", previousHolder=previous, jobs=released)
    return released
