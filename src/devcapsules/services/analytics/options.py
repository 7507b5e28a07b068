"""Analytics settings (`Settings.analytics`), parsed from the vars when the app is built.

- `ANALYTICS_RETENTION_DAYS` (default 90): raw events older than this are refused
  on ingestion and pruned by the scheduled handler; daily rollups are kept.
- `ANALYTICS_CACHE_TTL` (default 60, at least 60 = KV's minimum): how long a cached
  report may be served, i.e. the documented staleness bound.
- `ANALYTICS_SESSION_SALT`: salt for session hashes. Without it the salt is derived
  from `JWT_SECRET`, so rotating that secret restarts unique-session identity
  (counts already rolled up are unaffected).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from devcapsules.bindings.protocols import KV_MIN_TTL_SECONDS

DEFAULT_RETENTION_DAYS = 90
DEFAULT_CACHE_TTL = 60
# Only for a development host without any secret: hashes are still unlinkable
# across capsules, just not secret.
_DEVELOPMENT_SALT = "devcapsules-analytics-development"


@dataclass(frozen=True)
class AnalyticsOptions:
    retention_days: int = DEFAULT_RETENTION_DAYS
    cache_ttl: int = DEFAULT_CACHE_TTL
    session_salt: str = _DEVELOPMENT_SALT


def analytics_options(values: Mapping[str, str]) -> AnalyticsOptions:
    """The section from the vars (`Settings.from_vars` calls it); ValueError names the var."""
    retention = _int(values, "ANALYTICS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    ttl = _int(values, "ANALYTICS_CACHE_TTL", DEFAULT_CACHE_TTL)
    if not 1 <= retention <= 3650:
        raise ValueError(f"ANALYTICS_RETENTION_DAYS must be 1..3650, got {retention}")
    if ttl < KV_MIN_TTL_SECONDS:
        raise ValueError(f"ANALYTICS_CACHE_TTL must be at least {KV_MIN_TTL_SECONDS}")
    return AnalyticsOptions(retention, ttl, _salt(values))


def _salt(values: Mapping[str, str]) -> str:
    explicit = values.get("ANALYTICS_SESSION_SALT")
    if explicit:
        return explicit
    jwt_secret = values.get("JWT_SECRET")
    if jwt_secret:
        # A derived key, so the JWT secret itself never meets the session ids.
        digest = hmac.new(jwt_secret.encode(), b"analytics-session-salt", "sha256")
        return digest.hexdigest()
    return _DEVELOPMENT_SALT


def _int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
