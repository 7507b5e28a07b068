"""The sandbox library's limits: a plan's execution caps plus the sandbox's own knobs.

The caps (time, memory, test count, source/stdin/output sizes, the test-run wall budget)
and their one clamp are the plans table's (`services.plans.ExecutionCaps`); this class
adds what only the sandbox knows about: the compile budget, process, file and tmpfs caps.
The API clamps and checks a request once and hands the library the result
(`execute(..., run=RunLimits)`); direct callers pass raw values and the library clamps
them with the same `clamp`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from devcapsules.services.plans import ExecutionCaps

from .sandbox import SandboxLimits


@dataclass(frozen=True)
class Limits(ExecutionCaps):
    compile_time_limit_s: float = 30.0  # compilers get their own, bigger budget
    compile_memory_mb: int = 2048  # a compile run's whole-run memory (cgroup) cap
    max_processes: int = 64
    max_file_size_mb: int = 16
    max_open_files: int = 256
    tmp_size_mb: int = 64

    def with_caps(self, caps: ExecutionCaps) -> Limits:
        """These sandbox knobs under a plan's caps (the caps an admitted run came with)."""
        return replace(self, **vars(caps.caps()))

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
