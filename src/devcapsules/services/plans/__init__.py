"""The plans table: every number a plan sets, one row per plan, overridable by vars.

This is the ONE place the numbers live, read by the rate limiter (requests per minute
and per day), the generation quota (generations per day), `/execute` and
`/execute/tests`, the generation verifier, publishing's solution check and the executor
service (its own ceiling is the table's field-wise maximum). Pure Python on purpose: the
Worker reads limits without importing the sandbox library.

Rows: `anonymous` (callers without a credential), `free`, `creator`, `team`,
`enterprise`. Each number can be overridden by a Worker var, so a plan change is a
`wrangler.toml` / dashboard edit, not a code edit: `PLAN_<PLAN>_<FIELD>`, e.g.

    PLAN_FREE_REQUESTS_PER_MINUTE   positive integer or "unlimited"
    PLAN_FREE_GENERATIONS_PER_DAY   integer >= 0 or "unlimited" (0: plan cannot generate)
    PLAN_TEAM_MAX_TIME_LIMIT_S      seconds (>= 0.1) a run may ask for
    PLAN_ANONYMOUS_MAX_SOURCE_BYTES bytes of source code a run may send

(every field: `OVERRIDES` below; README "Plans and limits" lists them with defaults).
Which plan a signed-in caller is on *now* (a KV copy of D1's, 60 s) is `accounts.principals`.
Overrides are validated when the settings are built (`Settings.from_vars`): a typo in a
var name or value stops the Worker with a clear message naming the var instead of
silently keeping the default. The anonymous row's request windows are the free plan's
(after overrides) unless `PLAN_ANONYMOUS_REQUESTS_*` says otherwise.

A run's limits are computed ONCE per request: `ExecutionCaps.clamp` (client values ->
the run's `RunLimits`), then `RunLimits.check_sizes` / `check_test_count`; the backends
receive the `RunLimits` and re-check nothing. `ExecutionCaps.suite_wall_s` is the one wall
budget of a test run, for the sandbox library and the HTTP backends alike.

Windows are fixed and aligned to UTC: a minute window starts at epoch seconds floored to
60, a day window at UTC midnight. Fixed windows make a counter one row per subject and
window, updated by one atomic upsert, and make `reset` the same for every caller.

The windows' counters (the plans' accounting, `hit` / `read_counts`): exact request
counters in D1's `usage_counters`, one atomic check-and-count per request.

`hit()` costs ONE binding round trip (one `batch`, which D1 runs as one transaction):

1. one INSERT that upserts a row per window (minute, day) **only if every window is
   still under its limit**. The limit checks are scalar subqueries over the table being
   inserted into; SQL evaluates an `INSERT ... SELECT` completely before writing (SQLite
   materialises it when the SELECT reads the target table), so all checks see the state
   *before* this request and the windows are counted all-or-nothing;
2. a SELECT of the windows' counts after that, for the headers.

A refused request therefore consumes nothing: hammering past the minute limit does not
eat the day's budget, and a client that was refused all day is not still "over" the next
day because of its refusals. D1 serialises writes (one SQLite writer per database), and the
local binding holds a lock around each batch, so concurrent requests are counted exactly.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from devcapsules.bindings.protocols import Database
from devcapsules.context import PLANS, Principal
from devcapsules.errors import InvalidInput, TooLarge
from devcapsules.services.clock import Clock, iso

MINUTE_SECONDS = 60
DAY_SECONDS = 86_400
ANONYMOUS = "anonymous"
ROWS = (ANONYMOUS, *PLANS)
KIB = 1024
MIN_TIME_LIMIT_S = 0.1
MIN_MEMORY_LIMIT_MB = 16


# ---------------------------------------------------------------- execution caps


@dataclass(frozen=True)
class ExecutionCaps:
    """What one run may use. The defaults are the sandbox library's own (`executor.Limits`
    extends this class with the sandbox's process/file knobs)."""

    max_time_limit_s: float = 10.0
    max_memory_limit_mb: int = 1024
    max_test_cases: int = 100
    max_source_bytes: int = 256 * KIB
    max_stdin_bytes: int = 1024 * KIB
    max_output_bytes: int = 64 * KIB  # per stream
    max_test_run_s: float = 30.0  # wall budget of a whole test run
    default_time_limit_s: float = 2.0
    default_memory_limit_mb: int = 256

    def clamp(self, time_limit_s: float | None, memory_limit_mb: int | None) -> RunLimits:
        """THE clamp: client values -> the run's; defaults when absent, never above the
        maximums (nor below what a process needs to start)."""
        time_s = self.default_time_limit_s if time_limit_s is None else time_limit_s
        memory = self.default_memory_limit_mb if memory_limit_mb is None else memory_limit_mb
        time_s = float(min(max(float(time_s), MIN_TIME_LIMIT_S), self.max_time_limit_s))
        memory = min(max(int(memory), MIN_MEMORY_LIMIT_MB), self.max_memory_limit_mb)
        return RunLimits(time_s, memory, self)

    def suite_wall_s(self, time_limit_s: float, cases: int) -> float:
        """THE wall budget of a whole test run: every case its time limit, plus 2 s for
        start-up, at most `max_test_run_s`."""
        return min(self.max_test_run_s, time_limit_s * cases + 2.0)

    def oversized(self, source_code: str, stdin: str = "") -> Oversize | None:
        """THE size rule: the first input above its cap, or None. (The API raises 413 on
        it, the sandbox library its SourceTooLarge/StdinTooLarge.)"""
        for name, text, limit in (
            ("source_code", source_code, self.max_source_bytes),
            ("stdin", stdin, self.max_stdin_bytes),
        ):
            size = len(text.encode())
            if size > limit:
                return Oversize(name, size, limit)
        return None

    def caps(self) -> ExecutionCaps:
        """Just the execution caps (a subclass's extra knobs dropped)."""
        return ExecutionCaps(**{f.name: getattr(self, f.name) for f in _CAP_FIELDS})


_CAP_FIELDS = dataclasses.fields(ExecutionCaps)


@dataclass(frozen=True)
class Oversize:
    field: str  # "source_code" or "stdin"
    size: int
    limit: int

    @property
    def code(self) -> str:
        return "source_too_large" if self.field == "source_code" else "stdin_too_large"


@dataclass(frozen=True)
class RunLimits:
    """One run's effective limits (the clamp's result) and the caps they came from."""

    time_limit_s: float
    memory_limit_mb: int
    caps: ExecutionCaps

    def public(self) -> dict:
        return {"timeLimit": self.time_limit_s, "memoryLimit": self.memory_limit_mb}

    def suite_wall_s(self, cases: int) -> float:
        return self.caps.suite_wall_s(self.time_limit_s, cases)

    def with_caps(self, **changes: int) -> RunLimits:
        """The same time and memory under other caps (a capsule's suite, publishing)."""
        return replace(self, caps=replace(self.caps, **changes))

    def check_sizes(self, source_code: str, stdin: str = "") -> None:
        """413 before any executor is asked: oversized input never leaves the Worker."""
        found = self.caps.oversized(source_code, stdin)
        if found is not None:
            raise TooLarge(
                found.code,
                f"{found.field} is {found.size} bytes; the limit on this plan is {found.limit}",
                details={"field": found.field, "limitBytes": found.limit, "sizeBytes": found.size},
            )

    def check_test_count(self, count: int) -> None:
        if count > self.caps.max_test_cases:
            raise InvalidInput(
                "too_many_test_cases",
                f"At most {self.caps.max_test_cases} test cases per run on this plan",
                details={"limit": self.caps.max_test_cases, "count": count},
            )


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class PlanLimits:
    """A plan's row; None means unlimited (that counter is not kept at all)."""

    requests_per_minute: int | None
    requests_per_day: int | None
    generations_per_day: int | None
    execution: ExecutionCaps = field(default_factory=ExecutionCaps)

    def public(self) -> dict[str, int | None]:
        return {
            "requestsPerMinute": self.requests_per_minute,
            "requestsPerDay": self.requests_per_day,
            "generationsPerDay": self.generations_per_day,
        }


def _caps(time_s: float, memory_mb: int, cases: int, source: int, stdin: int) -> ExecutionCaps:
    return ExecutionCaps(time_s, memory_mb, cases, source * KIB, stdin * KIB)


# Anonymous callers get the least; paid plans more time, memory and bigger inputs.
DEFAULT_PLANS: Mapping[str, PlanLimits] = {
    ANONYMOUS: PlanLimits(10, 100, 0, _caps(5, 256, 20, 64, 64)),
    "free": PlanLimits(10, 100, 5, _caps(5, 256, 50, 64, 256)),
    "creator": PlanLimits(60, 5_000, 100, _caps(10, 512, 100, 256, 1024)),
    "team": PlanLimits(300, 25_000, 500, _caps(15, 1024, 100, 256, 1024)),
    "enterprise": PlanLimits(1_000, None, None, _caps(20, 1024, 100, 256, 1024)),
}


@dataclass(frozen=True)
class Override:
    """One overridable number: where it lives in the row and what it may be."""

    attribute: str
    kind: type  # int or float
    minimum: float
    unlimited: bool = False  # "unlimited" allowed (request windows, generations)


_REQUEST_OVERRIDES = {
    "REQUESTS_PER_MINUTE": Override("requests_per_minute", int, 1, unlimited=True),
    "REQUESTS_PER_DAY": Override("requests_per_day", int, 1, unlimited=True),
    "GENERATIONS_PER_DAY": Override("generations_per_day", int, 0, unlimited=True),
}
_MINIMUMS = {"max_time_limit_s": MIN_TIME_LIMIT_S, "default_time_limit_s": MIN_TIME_LIMIT_S}
_MINIMUMS |= {"max_memory_limit_mb": MIN_MEMORY_LIMIT_MB}
_MINIMUMS |= {"default_memory_limit_mb": MIN_MEMORY_LIMIT_MB}
# Var suffix -> Override: the request windows, then every execution cap by field name.
OVERRIDES: Mapping[str, Override] = _REQUEST_OVERRIDES | {
    f.name.upper(): Override(f.name, float if f.type == "float" else int, _MINIMUMS.get(f.name, 1))
    for f in _CAP_FIELDS
}
_VAR = re.compile(r"^PLAN_([A-Z]+)_(" + "|".join(OVERRIDES) + r")$")


def epoch_now(clock: Clock) -> int:
    """Epoch seconds on the app's clock (`ctx.deps.clock`): what every window is computed
    from, so a test crosses a UTC midnight by moving the injected clock, without sleeping."""
    return int(clock.now().timestamp())


@dataclass(frozen=True)
class PlanTable:
    """The validated plans table."""

    plans: Mapping[str, PlanLimits] = field(default_factory=lambda: dict(DEFAULT_PLANS))

    def for_plan(self, plan: str) -> PlanLimits:
        # An unknown plan (a stale token after a plan is retired) gets the free numbers:
        # failing closed to the smallest plan is safer than failing open.
        return self.plans.get(plan) or self.plans["free"]

    @property
    def anonymous(self) -> PlanLimits:
        return self.plans[ANONYMOUS]

    def for_principal(self, principal: Principal | None) -> PlanLimits:
        """The caller's row: anonymous without a principal, else their plan's."""
        return self.anonymous if principal is None else self.for_plan(principal.plan)

    def ceiling(self) -> ExecutionCaps:
        """Every execution cap at its largest over the rows: the executor service's own
        maximums, so whatever a plan may ask for (overrides included) it can run."""
        rows = [row.execution for row in self.plans.values()]
        return ExecutionCaps(**{f.name: max(getattr(r, f.name) for r in rows) for f in _CAP_FIELDS})


def from_vars(values: Mapping[str, str]) -> PlanTable:
    """The default table with every `PLAN_*` override applied; ValueError if one is wrong."""
    overrides: dict[str, dict[str, float | None]] = {}
    for name, raw in values.items():
        if not name.startswith("PLAN_"):
            continue
        match = _VAR.match(name)
        if match is None or match.group(1).lower() not in ROWS:
            raise ValueError(
                f"{name} is not a plan-limit var; expected PLAN_<{'|'.join(ROWS).upper()}>_"
                f"<{'|'.join(OVERRIDES)}>"
            )
        row, suffix = match.group(1).lower(), match.group(2)
        if row == ANONYMOUS and suffix == "GENERATIONS_PER_DAY":
            raise ValueError(f"{name}: generating needs an account; anonymous callers cannot")
        overrides.setdefault(row, {})[OVERRIDES[suffix].attribute] = parse_limit(
            name, raw, OVERRIDES[suffix]
        )
    plans = {row: _row(row, overrides.get(row, {})) for row in PLANS}
    # Anonymous callers are counted with the free plan's windows unless told otherwise.
    free = plans["free"]
    anonymous = replace(
        DEFAULT_PLANS[ANONYMOUS],
        requests_per_minute=free.requests_per_minute,
        requests_per_day=free.requests_per_day,
    )
    plans[ANONYMOUS] = _apply(anonymous, overrides.get(ANONYMOUS, {}))
    return PlanTable(plans=plans)


def _row(plan: str, changes: dict[str, float | None]) -> PlanLimits:
    return _apply(DEFAULT_PLANS[plan], changes)


def _apply(row: PlanLimits, changes: dict[str, float | None]) -> PlanLimits:
    caps = {key: value for key, value in changes.items() if hasattr(row.execution, key)}
    windows = {key: value for key, value in changes.items() if key not in caps}
    return replace(row, execution=replace(row.execution, **caps), **windows)


def parse_limit(name: str, raw: str, spec: Override) -> float | None:
    text = str(raw).strip().lower()
    if text == "unlimited" and spec.unlimited:
        return None
    kind = "an integer" if spec.kind is int else "a number"
    try:
        number = spec.kind(text)
    except ValueError:
        alternative = " or 'unlimited'" if spec.unlimited else ""
        raise ValueError(f"{name} must be {kind}{alternative}, got {raw!r}") from None
    if not math.isfinite(number) or number < spec.minimum:
        alternative = " (or 'unlimited')" if spec.unlimited else ""
        raise ValueError(f"{name} must be at least {spec.minimum:g}{alternative}, got {number}")
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


@dataclass(frozen=True)
class Window:
    name: str  # "minute" or "day" (the `usage_counters.window` CHECK constraint)
    start: int  # epoch seconds
    limit: int


@dataclass(frozen=True)
class Hit:
    allowed: bool
    counts: dict[str, int]  # window -> count including this request when allowed


def _params(subject: str, windows: Sequence[Window]) -> list[object]:
    """?1 = subject; window i uses ?(3i+2) name, ?(3i+3) start, ?(3i+4) limit."""
    values: list[object] = [subject]
    for window in windows:
        values += [window.name, window.start, window.limit]
    return values


def _increment_sql(count: int) -> str:
    rows = ", ".join(f"(?{3 * i + 2}, ?{3 * i + 3})" for i in range(count))
    checks = " AND ".join(
        f"COALESCE((SELECT count FROM usage_counters WHERE subject = ?1 "
        f"AND window = ?{3 * i + 2} AND window_start = ?{3 * i + 3}), 0) < ?{3 * i + 4}"
        for i in range(count)
    )
    # The WHERE also keeps SQLite's upsert grammar unambiguous after a SELECT.
    return (
        "INSERT INTO usage_counters (subject, window, window_start, count) "
        f"SELECT ?1, w.column1, w.column2, 1 FROM (VALUES {rows}) AS w WHERE {checks} "
        "ON CONFLICT (subject, window, window_start) DO UPDATE SET count = count + 1 "
        "RETURNING window, count"
    )


async def hit(db: Database, subject: str, windows: Sequence[Window]) -> Hit:
    """Count one request in every window, or in none if any window is full."""
    if not windows:
        return Hit(allowed=True, counts={})
    params = _params(subject, windows)
    increment = db.prepare(_increment_sql(len(windows))).bind(*params)
    pairs = [(window.name, window.start) for window in windows]
    incremented, current = await db.batch([increment, _read_statement(db, subject, pairs)])
    return Hit(allowed=bool(incremented["results"]), counts=_counts(pairs, current))


async def read_counts(
    db: Database, subject: str, windows: Sequence[tuple[str, int]]
) -> dict[str, int]:
    """Current counts for (window, start) pairs; absent rows count 0. One round trip."""
    return _counts(windows, await _read_statement(db, subject, windows).all())


def _read_statement(db: Database, subject: str, windows: Sequence[tuple[str, int]]):
    matches = " OR ".join("(window = ? AND window_start = ?)" for _ in windows)
    sql = f"SELECT window, count FROM usage_counters WHERE subject = ? AND ({matches})"
    return db.prepare(sql).bind(subject, *(value for pair in windows for value in pair))


def _counts(windows: Sequence[tuple[str, int]], result: dict) -> dict[str, int]:
    counts = {name: 0 for name, _ in windows}
    counts.update({row["window"]: row["count"] for row in result["results"]})
    return counts
