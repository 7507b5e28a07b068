"""Typed settings in sections, read from the Worker's vars and secrets once per app.

The same names are used everywhere: `wrangler.toml [vars]` and `wrangler secret put`
on the edge, `wrangler.toml` plus `.dev.vars` or the process environment locally.

`Settings.from_vars` parses and validates every var of every section when the app is
built: an invalid value raises `SettingsError` naming the var, so a typo stops the
Worker (it answers `configuration_error` on every route) instead of surfacing as a
500 in the one request that happens to read it. Nothing reads the raw vars afterwards:
each consumer gets its typed section (`settings.auth`, `.cors`, `.logging`,
`.execution`, `.generation`, `.analytics`, `.limits`).

Each section is parsed next to the code that uses it (the executor routing table in
services/execution/hybrid.py, the model provider in services/generation/config.py,
analytics in services/analytics/options.py, the plans table in services/plans/);
those parsers raise a plain `ValueError` naming the var, turned into `SettingsError` here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from devcapsules import __version__
from devcapsules.logs import LEVELS
from devcapsules.services import plans as plan_limits
from devcapsules.services.analytics.options import AnalyticsOptions, analytics_options
from devcapsules.services.execution.hybrid import ExecutorConfig
from devcapsules.services.generation import config as generation_config

ENVIRONMENTS = ("development", "staging", "production")
# A shorter HS256 key can be brute-forced offline from any token it signed.
MIN_JWT_SECRET_LENGTH = 32
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# "warning" is accepted for "warn": Python's own spelling, and what some hosts pass.
_LOG_LEVEL_ALIASES = {"warning": "warn"}

Section = TypeVar("Section")


class SettingsError(ValueError):
    """A var or secret has a value the Worker cannot run with."""


@dataclass(frozen=True)
class AuthSettings:
    """`JWT_SECRET` (a secret) and `PBKDF2_ITERATIONS`. A missing secret is answered by
    the routes that sign tokens (500 `configuration_error`), so health still answers."""

    jwt_secret: str | None = None
    # PBKDF2 rounds for new password hashes (at most 100,000: Web Crypto's cap on the edge).
    password_iterations: int = 100_000


@dataclass(frozen=True)
class CorsSettings:
    """`ALLOWED_ORIGINS`: comma-separated origins, or `*`."""

    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggingSettings:
    """`LOG_LEVEL`: debug | info | warn | error."""

    level: str = "info"


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    version: str = __version__
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    auth: AuthSettings = field(default_factory=AuthSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    # Which backend runs which language (EXECUTOR_*, PISTON_*). Built without vars: the
    # local sandbox, which refuses to run code where it cannot start (never weaker).
    execution: ExecutorConfig = field(default_factory=ExecutorConfig)
    # The model provider and the consumer's knobs (AZURE_OPENAI_*, OPENAI_*, GENERATION_*).
    generation: generation_config.GenerationConfig = field(
        default_factory=generation_config.GenerationConfig
    )
    analytics: AnalyticsOptions = field(default_factory=AnalyticsOptions)
    # The plans table (request windows, generation quotas, execution caps), PLAN_* overrides.
    limits: plan_limits.PlanTable = field(default_factory=plan_limits.PlanTable)

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
            max_body_bytes=_positive_int(values, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            auth=_auth(values, environment),
            cors=CorsSettings(_parse_origins(values.get("ALLOWED_ORIGINS", ""))),
            logging=LoggingSettings(_log_level(values.get("LOG_LEVEL", ""))),
            execution=_section(ExecutorConfig.from_vars, values),
            generation=_section(generation_config.from_vars, values),
            analytics=_section(analytics_options, values),
            limits=_section(plan_limits.from_vars, values),
        )


def _section(parse: Callable[[Mapping[str, str]], Section], values: Mapping[str, str]) -> Section:
    """A section's own parser; its ValueError (which names the var) becomes a SettingsError."""
    try:
        return parse(values)
    except SettingsError:
        raise
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _auth(values: Mapping[str, str], environment: str) -> AuthSettings:
    secret = values.get("JWT_SECRET") or None
    if secret is not None and environment != "development" and len(secret) < MIN_JWT_SECRET_LENGTH:
        raise SettingsError(
            f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters in {environment}"
        )
    iterations = _bounded_int(values, "PBKDF2_ITERATIONS", 100_000, 1_000, 100_000)
    return AuthSettings(jwt_secret=secret, password_iterations=iterations)


def _log_level(raw: str) -> str:
    level = raw.strip().lower() or "info"
    level = _LOG_LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {tuple(LEVELS)}, got {raw!r}")
    return level


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
