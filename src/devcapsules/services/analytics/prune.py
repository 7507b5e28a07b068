"""Retention: raw events go after `retention_days`; rollups and session hashes stay.

Called by the scheduled handler (and the local periodic task). Deletes in chunks
so that one run never holds the database for long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devcapsules.bindings.env import Env
from devcapsules.services.clock import iso

CHUNK = 5_000
MAX_CHUNKS = 40

# Both conditions: `received_at` walks the index, and `occurred_at` guarantees that
# a pruned event can never be re-accepted, since ingestion refuses timestamps older
# than the same cutoff; a late-arriving old event waits one more run at most.
_DELETE_CHUNK = """
DELETE FROM analytics_events WHERE rowid IN (
    SELECT rowid FROM analytics_events
    WHERE received_at < ?1 AND occurred_at < ?1 LIMIT ?2)
"""


async def prune_events(env: Env, now: datetime, retention_days: int) -> int:
    """Delete raw events older than the retention period; return how many went."""
    cutoff = iso(now - timedelta(days=retention_days))
    deleted = 0
    for _ in range(MAX_CHUNKS):
        result = await env.db.prepare(_DELETE_CHUNK).bind(cutoff, CHUNK).run()
        changes = result["meta"]["changes"]
        deleted += changes
        if changes < CHUNK:
            break
    return deleted
