"""Server-side maximums for code execution; client-requested limits are clamped to them.

The HTTP layer builds one `Limits` per plan (e.g. `Limits(max_time_limit_s=2)` for free)
and passes it to `execute()` / `run_tests()`; values the client omits get the defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .sandbox import SandboxLimits


@dataclass(frozen=True)
class Limits:
    default_time_limit_s: float = 2.0
    max_time_limit_s: float = 10.0
    default_memory_limit_mb: int = 256
    max_memory_limit_mb: int = 1024
    compile_time_limit_s: float = 30.0  # compilers get their own, bigger budget
    compile_memory_mb: int = 2048  # a compile run's whole-run memory (cgroup) cap
    max_test_run_s: float = 30.0  # wall budget for a whole run_tests() sandbox
    max_test_cases: int = 100
    max_source_bytes: int = 256 * 1024
    max_stdin_bytes: int = 1024 * 1024
    max_output_bytes: int = 64 * 1024  # per stream
    max_processes: int = 64
    max_file_size_mb: int = 16
    max_open_files: int = 256
    tmp_size_mb: int = 64

    def clamp(self, time_limit_s: float | None, memory_limit_mb: int | None) -> tuple[float, int]:
        """Client values -> effective ones: defaults when absent, never above the maximums."""
        time_s = self.default_time_limit_s if time_limit_s is None else time_limit_s
        memory = self.default_memory_limit_mb if memory_limit_mb is None else memory_limit_mb
        return (
            min(max(time_s, 0.1), self.max_time_limit_s),
            min(max(int(memory), 16), self.max_memory_limit_mb),
        )

    def test_run_wall_s(self, time_limit_s: float, cases: int) -> float:
        """Wall budget of a whole run_tests() run: each case its time limit, plus 2 s for
        start-up, at most `max_test_run_s`. (The Worker-side backends use the same rule:
        `services.execution.limits.RunLimits.suite_wall_s`.)"""
        return min(self.max_test_run_s, time_limit_s * cases + 2.0)

    def sandbox(
        self,
        *,
        time_limit_s: float,
        address_space_mb: int | None,
        memory_mb: int,
        wall_time_s: float | None = None,
        cpu_time_s: float | None = None,
        max_processes: int | None = None,
    ) -> SandboxLimits:
        """SandboxLimits for one run. CPU is whole seconds (RLIMIT_CPU); the wall clock
        gets slack for process start-up (a JVM needs ~0.3 s before user code runs)."""
        return SandboxLimits(
            wall_time_s=wall_time_s or time_limit_s * 1.5 + 1.0,
            cpu_time_s=math.ceil(cpu_time_s or time_limit_s),
            address_space_mb=address_space_mb,
            memory_mb=memory_mb,
            max_processes=max_processes or self.max_processes,
            max_file_size_mb=self.max_file_size_mb,
            max_open_files=self.max_open_files,
            tmp_size_mb=self.tmp_size_mb,
            max_output_bytes=self.max_output_bytes,
            max_stdin_bytes=self.max_stdin_bytes,
        )


DEFAULT_LIMITS = Limits()
