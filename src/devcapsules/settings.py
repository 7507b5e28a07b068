"""Typed settings, read from the Worker's vars and secrets once per isolate.

The same names are used everywhere: `wrangler.toml [vars]` and `wrangler secret put`
on the edge, `wrangler.toml` plus `.dev.vars` or the process environment locally.
Invalid values fail loudly at build time, not in the middle of a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from devcapsules import __version__
from devcapsules.services import plans as plan_limits

ENVIRONMENTS = ("development", "staging", "production")
# A shorter HS256 key can be brute-forced offline from any token it signed.
MIN_JWT_SECRET_LENGTH = 32
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class SettingsError(ValueError):
    """A var or secret has a value the Worker cannot run with."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    version: str = __version__
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    jwt_secret: str | None = None
    log_level: str = "info"
    # PBKDF2 rounds for new password hashes (at most 100,000: Web Crypto's cap on the edge).
    password_iterations: int = 100_000
    # The plans table (request windows, generation quotas, execution caps), PLAN_* overrides.
    limits: plan_limits.PlanTable = field(default_factory=plan_limits.PlanTable)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_vars(cls, values: Mapping[str, str]) -> Settings:
        environment = values.get("ENVIRONMENT", "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"ENVIRONMENT must be one of {ENVIRONMENTS}, got {environment!r}")
        return cls(
            environment=environment,
            version=values.get("APP_VERSION") or __version__,
            allowed_origins=_parse_origins(values.get("ALLOWED_ORIGINS", "")),
            max_body_bytes=_positive_int(values, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            jwt_secret=values.get("JWT_SECRET") or None,
            log_level=values.get("LOG_LEVEL", "info").lower(),
            password_iterations=_bounded_int(values, "PBKDF2_ITERATIONS", 100_000, 1_000, 100_000),
            limits=_plan_limits(values),
            extra=dict(values),
        )


def _plan_limits(values: Mapping[str, str]) -> plan_limits.PlanTable:
    try:
        return plan_limits.from_vars(values)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _parse_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise SettingsError(f"ALLOWED_ORIGINS entry {origin!r} must be '*' or a URL origin")
    return origins


def _positive_int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if raw in (None, ""):
        return default
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive, got {number}")
    return number


def _bounded_int(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    number = _positive_int(values, name, default)
    if not low <= number <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {number}")
    return number
