"""The plan table: requests per minute and per day, generations per day.

This is the ONE place the numbers live. Each can be overridden by a Worker var, so a
plan change is a `wrangler.toml` / dashboard edit, not a code edit:

    PLAN_<PLAN>_REQUESTS_PER_MINUTE   positive integer or "unlimited"
    PLAN_<PLAN>_REQUESTS_PER_DAY      positive integer or "unlimited"
    PLAN_<PLAN>_GENERATIONS_PER_DAY   integer >= 0 or "unlimited" (0: plan cannot generate)

Overrides are validated when the settings are built (`Settings.from_vars`): a typo in a
var name or value stops the Worker with a clear message instead of silently keeping the
default. Anonymous callers get the free plan's numbers (after overrides).

Windows are fixed and aligned to UTC: a minute window starts at epoch seconds floored to
60, a day window at UTC midnight. Fixed windows make a counter one row per subject and
window, updated by one atomic upsert, and make `reset` the same for every caller.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from devcapsules.context import PLANS
from devcapsules.services.clock import iso

MINUTE_SECONDS = 60
DAY_SECONDS = 86_400
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class PlanLimits:
    """A plan's caps; None means unlimited (that counter is not kept at all)."""

    requests_per_minute: int | None
    requests_per_day: int | None
    generations_per_day: int | None

    def public(self) -> dict[str, int | None]:
        return {
            "requestsPerMinute": self.requests_per_minute,
            "requestsPerDay": self.requests_per_day,
            "generationsPerDay": self.generations_per_day,
        }


DEFAULT_PLANS: Mapping[str, PlanLimits] = {
    "free": PlanLimits(10, 100, 5),
    "creator": PlanLimits(60, 5_000, 100),
    "team": PlanLimits(300, 25_000, 500),
    "enterprise": PlanLimits(1_000, None, None),
}

# Var suffix -> (PlanLimits field, smallest allowed number).
_FIELDS = {
    "REQUESTS_PER_MINUTE": ("requests_per_minute", 1),
    "REQUESTS_PER_DAY": ("requests_per_day", 1),
    "GENERATIONS_PER_DAY": ("generations_per_day", 0),
}
_VAR = re.compile(r"^PLAN_([A-Z]+)_(" + "|".join(_FIELDS) + r")$")


def wall_clock() -> float:
    return time.time()


@dataclass(frozen=True)
class LimitsConfig:
    """The validated plan table plus the clock every window is computed from.

    The clock is injectable so tests can cross a UTC midnight without sleeping:
    `dataclasses.replace(settings, limits=settings.limits.with_clock(fake))`.
    """

    plans: Mapping[str, PlanLimits] = field(default_factory=lambda: dict(DEFAULT_PLANS))
    clock: Callable[[], float] = field(default=wall_clock, compare=False, repr=False)

    def for_plan(self, plan: str) -> PlanLimits:
        # An unknown plan (a stale token after a plan is retired) gets the free numbers:
        # failing closed to the smallest plan is safer than failing open.
        return self.plans.get(plan) or self.plans["free"]

    @property
    def anonymous(self) -> PlanLimits:
        return self.plans["free"]

    def now(self) -> int:
        return int(self.clock())

    def with_clock(self, clock: Callable[[], float]) -> LimitsConfig:
        return replace(self, clock=clock)


def from_vars(values: Mapping[str, str]) -> LimitsConfig:
    """The default table with every `PLAN_*` override applied; ValueError if one is wrong."""
    overrides: dict[str, dict[str, int | None]] = {}
    for name, raw in values.items():
        if not name.startswith("PLAN_"):
            continue
        match = _VAR.match(name)
        if match is None or match.group(1).lower() not in PLANS:
            raise ValueError(
                f"{name} is not a plan-limit var; expected PLAN_<{'|'.join(PLANS).upper()}>_"
                f"<{'|'.join(_FIELDS)}>"
            )
        attribute, minimum = _FIELDS[match.group(2)]
        plan = match.group(1).lower()
        overrides.setdefault(plan, {})[attribute] = parse_limit(name, raw, minimum)
    plans = {plan: replace(DEFAULT_PLANS[plan], **overrides.get(plan, {})) for plan in PLANS}
    return LimitsConfig(plans=plans)


def parse_limit(name: str, raw: str, minimum: int) -> int | None:
    text = str(raw).strip().lower()
    if text == "unlimited":
        return None
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer or 'unlimited', got {raw!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum} (or 'unlimited'), got {number}")
    return number


# ---------------------------------------------------------------- windows


# Epoch seconds count no leap seconds, so a UTC day is exactly 86,400 of them and
# `now - now % 86_400` is UTC midnight.
WINDOW_SECONDS = {"minute": MINUTE_SECONDS, "day": DAY_SECONDS, "generation_day": DAY_SECONDS}


def window_start(window: str, now: int) -> int:
    return now - now % WINDOW_SECONDS[window]


def window_reset(window: str, now: int) -> int:
    """Epoch seconds at which the window containing `now` ends."""
    return window_start(window, now) + WINDOW_SECONDS[window]


def epoch_iso(epoch: int) -> str:
    """A window boundary as the API shows timestamps (`resetAt`)."""
    return iso(datetime.fromtimestamp(epoch, UTC))
