"""Analytics: events in (ingest), rollups on D1, answers out (reports), cached in KV.

Entry points for other features (import them from their modules: this package imports
none, so `Settings` can load its analytics section without the rest, which needs pydantic):
- `prune.prune_events(env, now, retention_days)`: for the scheduled maintenance handler;
- `ingest.record_execution_event(env, options, ...)`: for the execution service, per
  `/execute` call (our own events go in the way the widget's do);
- `options.analytics_options(vars)`: the `Settings.analytics` section (retention, cache
  TTL, session salt), parsed when the app is built.
"""
