"""Per-plan execution maximums, and the effective limits of one run.

Clients ask for `time_limit` (seconds) and `memory_limit` (MB); the server caps them at
the caller's plan maximums (anonymous callers get the smallest). Pure Python on purpose:
the Worker computes limits without importing the sandbox library.
"""

from __future__ import annotations

from dataclasses import dataclass

from devcapsules.errors import InvalidInput, TooLarge

KIB = 1024
ANONYMOUS = "anonymous"
MIN_TIME_LIMIT_S = 0.1
MIN_MEMORY_LIMIT_MB = 16


@dataclass(frozen=True)
class PlanLimits:
    max_time_limit_s: float
    max_memory_limit_mb: int
    max_test_cases: int
    max_source_bytes: int
    max_stdin_bytes: int
    default_time_limit_s: float = 2.0
    default_memory_limit_mb: int = 256
    max_test_run_s: float = 30.0  # wall budget of a whole test run (the library's default)

    def effective(self, time_limit_s: float | None, memory_limit_mb: int | None) -> RunLimits:
        """Client values -> the run's: defaults when absent, never above the maximums."""
        time_s = self.default_time_limit_s if time_limit_s is None else time_limit_s
        memory = self.default_memory_limit_mb if memory_limit_mb is None else memory_limit_mb
        time_s = float(min(max(float(time_s), MIN_TIME_LIMIT_S), self.max_time_limit_s))
        memory = min(max(int(memory), MIN_MEMORY_LIMIT_MB), self.max_memory_limit_mb)
        return RunLimits(time_s, memory, self)


@dataclass(frozen=True)
class RunLimits:
    time_limit_s: float
    memory_limit_mb: int
    plan: PlanLimits

    def public(self) -> dict:
        return {"timeLimit": self.time_limit_s, "memoryLimit": self.memory_limit_mb}

    def suite_wall_s(self, cases: int) -> float:
        """Wall budget of a whole test run: every case its time limit, plus 2 s, at most
        the plan's `max_test_run_s`. The sandbox library's rule
        (`executor.limits.Limits.test_run_wall_s`, which the Worker cannot import; a test
        checks they agree), used by the backends that run a suite over HTTP."""
        return min(self.plan.max_test_run_s, self.time_limit_s * cases + 2.0)

    def check_sizes(self, source_code: str, stdin: str = "") -> None:
        """413 before any executor is asked: oversized input never leaves the Worker."""
        _check("source_code", source_code, self.plan.max_source_bytes, "source_too_large")
        _check("stdin", stdin, self.plan.max_stdin_bytes, "stdin_too_large")

    def check_test_count(self, count: int) -> None:
        if count > self.plan.max_test_cases:
            raise InvalidInput(
                "too_many_test_cases",
                f"At most {self.plan.max_test_cases} test cases per run on this plan",
                details={"limit": self.plan.max_test_cases, "count": count},
            )


def _check(field: str, text: str, limit: int, code: str) -> None:
    size = len(text.encode())
    if size > limit:
        raise TooLarge(
            code,
            f"{field} is {size} bytes; the limit on this plan is {limit}",
            details={"field": field, "limitBytes": limit, "sizeBytes": size},
        )


# Anonymous callers get the least; paid plans more time, memory and bigger inputs.
# Every value stays within the executor service's own maximums (SERVICE_LIMITS).
PLAN_LIMITS: dict[str, PlanLimits] = {
    ANONYMOUS: PlanLimits(5, 256, 20, 64 * KIB, 64 * KIB),
    "free": PlanLimits(5, 256, 50, 64 * KIB, 256 * KIB),
    "creator": PlanLimits(10, 512, 100, 256 * KIB, 1024 * KIB),
    "team": PlanLimits(15, 1024, 100, 256 * KIB, 1024 * KIB),
    "enterprise": PlanLimits(20, 1024, 100, 256 * KIB, 1024 * KIB),
}
SERVICE_LIMITS = PLAN_LIMITS["enterprise"]


def limits_for(principal: object | None) -> PlanLimits:
    """The caller's plan row; an unknown plan name falls back to the free row."""
    if principal is None:
        return PLAN_LIMITS[ANONYMOUS]
    return PLAN_LIMITS.get(getattr(principal, "plan", "free"), PLAN_LIMITS["free"])
