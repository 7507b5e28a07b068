"""Analytics: events in (ingest), rollups on D1, answers out (reports), cached in KV.

Entry points for other features:
- `prune_events(env, now, retention_days)`: for the scheduled maintenance handler;
- `record_execution_event(env, ...)`: for the execution service, per `/execute` call;
- `analytics_options(vars)`: retention, cache TTL and session salt from the vars.
"""

from devcapsules.services.analytics.options import analytics_options
from devcapsules.services.analytics.prune import prune_events
from devcapsules.services.analytics.recording import record_execution_event

__all__ = ["analytics_options", "prune_events", "record_execution_event"]
