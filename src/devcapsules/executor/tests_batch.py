"""`run_tests_batch()`: several test runs of one principal (a generated candidate's
solution and starter, a grading job's submissions) in ONE sandbox, a forked process each.

Each run is exactly what `run_tests()` does for Python function tests: the same harness
(harness/python_harness.py: loaded once per batch by the batch harness, its `__main__`
block run in a forked child per run, instead of by its own interpreter), the same
inputs (its tests.json, carried in batch.json and handed to the harness in memory: one
file for the batch), the same per-test time limit
and whole-run wall and CPU budget, its own results channel (a private file that is its
fd 3), and the same host-side comparison and classification
(`tests_harness._function_results`) on a view of that one child. Between runs the batch
harness kills every leftover process and empties /tmp (batch.py), so a run sees nothing
of the one before; memory is the run cgroup's cap over the batch, and the runs take
turns, so each has it for itself.

What stays a run of its own (`run_tests()`, one sandbox each, by the caller): I/O tests
(the launcher runs those, a process per stdin), other languages, and a single run (a
batch of one gains nothing).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
from dataclasses import dataclass, field
from typing import Any

from devcapsules.services.plans import RunLimits

from . import batch, sandbox
from .languages import resolve
from .limits import DEFAULT_LIMITS, Limits
from .runner import admit
from .sandbox import SandboxResult, SandboxUnavailable
from .tests_harness import (
    InvalidTestCases,
    TestCase,
    TestRunResult,
    _function_config,
    _function_results,
    parse_test_cases,
)

log = logging.getLogger(__name__)
HARNESS = "python_harness.py"
MAX_CHANNEL_BYTES = 64 * 1024 * 1024  # the whole batch's fd 3 (records carry every output)


@dataclass(frozen=True)
class SuiteRun:
    """One run of a batch: a program and its test cases (function tests)."""

    user_code: str
    test_cases: list[dict[str, Any]]
    function_name: str | None = None
    cases: list[TestCase] = field(default_factory=list, compare=False)


def batchable(language: str, runs: list[SuiteRun]) -> bool:
    """Whether these runs can share a sandbox with `run_tests()`'s semantics: Python
    function tests (the caller runs a batch of one as a run of its own)."""
    if resolve(language).name != "python":
        return False
    return all(
        isinstance(case, dict) and "expectedOutput" not in case
        for run in runs
        for case in run.test_cases
    )


async def run_tests_batch(
    runs: list[SuiteRun],
    language: str = "python",
    *,
    time_limit_s: float | None = None,
    memory_limit_mb: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    run: RunLimits | None = None,
) -> list[TestRunResult]:
    """One `TestRunResult` per run, in order, as `run_tests()` would give it. Raises
    InvalidTestCases, SourceTooLarge, UnknownLanguage and SandboxUnavailable like it."""
    lang = resolve(language)
    if not runs or not batchable(language, runs):
        raise batch_refused()
    if len(runs) > limits.max_test_cases:
        raise InvalidTestCases(f"at most {limits.max_test_cases} runs per batch")
    admitted_runs, admitted = [], run
    for item in runs:
        limits, admitted = admit(limits, run, time_limit_s, memory_limit_mb, item.user_code)
        cases = parse_test_cases(item.test_cases, limits)
        admitted_runs.append(SuiteRun(item.user_code, item.test_cases, item.function_name, cases))
    assert admitted is not None
    time_s, memory_mb = admitted.time_limit_s, admitted.memory_limit_mb
    try:
        return await _run(lang, admitted_runs, time_s, memory_mb, limits)
    except SandboxUnavailable:
        raise
    except Exception:
        log.exception("test batch failed inside the executor")
        failed = TestRunResult("internal_error", 0, 0, language=lang.name, version=lang.version)
        return [dataclasses.replace(failed, total=len(r.cases)) for r in admitted_runs]


def batch_refused() -> InvalidTestCases:
    return InvalidTestCases("a test batch takes one or more runs of Python function tests")


async def _run(lang, runs: list[SuiteRun], time_s: float, memory_mb: int, limits: Limits):
    files, programs = {}, []
    for index, item in enumerate(runs):
        # Flat names: a warm sandbox's work directory takes files, not folders.
        config = _function_config(item.cases, item.function_name, lang, time_s)
        config["source"] = f"r{index}_{lang.source_file}"
        files[config["source"]] = item.user_code
        wall = limits.suite_wall_s(time_s, len(item.cases))
        harness = sandbox.support_path(HARNESS)
        programs.append(
            {
                "path": harness,
                # Its tests.json travels in batch.json and reaches the harness in memory:
                # one file for all the runs' specs, not one more per run (~0.1 ms each).
                "config": config,
                "argv": [harness],
                "timeout_s": wall,
                "cpu_s": math.ceil(wall),  # the harness runs every test: the run's budget
                "channel": True,
            }
        )
    channel = _channel_bytes(runs, limits)
    files["batch.json"] = json.dumps(
        {
            "count": len(runs),
            "timeout_s": time_s,
            "max_output": limits.max_output_bytes,
            "max_channel": channel,
            "programs": programs,
        }
    )
    walls = [p["timeout_s"] for p in programs]
    box = limits.sandbox(
        time_limit_s=time_s,
        address_space_mb=lang.address_space_mb(memory_mb),
        memory_mb=memory_mb,
        wall_time_s=sum(walls) + 1.0,  # the runs take turns
        cpu_time_s=max(p["cpu_s"] for p in programs),
    )
    box = _with_channel(box, min(MAX_CHANNEL_BYTES, 2 * channel * len(runs) + (1 << 20)))
    whole = await batch.in_one_sandbox(lang, limits, files, box)
    found = batch.records(whole, len(runs))
    results = []
    for index, item in enumerate(runs):
        view = _view(found.get(index), whole)
        result = _function_results(view, item.cases, time_s, memory_mb)
        result.language, result.version = lang.name, lang.version
        result.time_ms, result.memory_kb = view.wall_ms, view.max_rss_kb
        results.append(result)
    return results


def _channel_bytes(runs: list[SuiteRun], limits: Limits) -> int:
    # As a run of its own (tests_harness._box_limits): every test's captured output.
    most = max(len(item.cases) for item in runs)
    return min(MAX_CHANNEL_BYTES, most * 4 * limits.max_output_bytes + (1 << 20))


def _with_channel(box: sandbox.SandboxLimits, size: int) -> sandbox.SandboxLimits:
    return dataclasses.replace(box, max_channel_bytes=size)


def _view(record: dict | None, whole: SandboxResult) -> SandboxResult:
    """One run as if it had had the sandbox to itself: its own exit, signal, deadline,
    CPU and results; a run the batch never reached ended with the batch (its limits)."""
    if record is None:
        return SandboxResult(
            stdout="",
            stderr="",
            exit_code=whole.exit_code,
            signal=whole.signal,
            timed_out=whole.timed_out,
            output_limit_exceeded=whole.output_limit_exceeded,
            stdout_truncated=False,
            stderr_truncated=False,
            wall_ms=0,
            cpu_ms=0,
            max_rss_kb=0,
            memory_exceeded=whole.memory_exceeded,
            memory_counted=whole.memory_counted,
        )
    killed = record.get("signal") == signal.SIGKILL and not record.get("timed_out")
    return SandboxResult(
        stdout=str(record.get("stdout", "")),
        stderr=str(record.get("stderr", "")),
        exit_code=record.get("exit_code") if type(record.get("exit_code")) is int else None,
        signal=record.get("signal") if type(record.get("signal")) is int else None,
        timed_out=record.get("timed_out") is True,
        output_limit_exceeded=record.get("results_truncated") is True,
        stdout_truncated=record.get("stdout_truncated") is True,
        stderr_truncated=record.get("stderr_truncated") is True,
        wall_ms=_int(record.get("wall_ms")),
        cpu_ms=_int(record.get("cpu_ms")),
        max_rss_kb=_int(record.get("max_rss_kb")),
        results=str(record.get("results", "")).encode(),
        # The cgroup spans the batch; a run SIGKILLed (not by its deadline) in a batch
        # that saw an OOM kill is the one the kernel killed (as for I/O runs).
        memory_exceeded=whole.memory_exceeded and killed,
        memory_counted=whole.memory_counted,
    )


def _int(value: Any) -> int:
    return value if type(value) is int else 0
