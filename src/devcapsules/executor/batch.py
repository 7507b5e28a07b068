"""`run_batch()`: many small independent Python programs of one principal (a publish
check, a grading job, generation candidates) in ONE sandbox, a forked process each.

A sandbox's start costs far more CPU than a small program (see bench/bench_batch.py), so
a batch pays it once: harness/batch_python.py forks a child per program from one started
interpreter, with per-program deadline, output caps and CPU limit, and kills every other
process and empties /tmp between programs. The sandbox around the batch is a cold run's,
with the run cgroup capping the batch's memory; with a warm pool, a pre-started one
(warm.py: same options, one batch, then destroyed), so the batch does not wait for it.
Results come back on the harness channel (fd 3), never on stdout, and are classified here
like `execute()`'s.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from . import warm
from .languages import resolve
from .limits import DEFAULT_LIMITS, Limits
from .runner import check_sizes, workspace
from .sandbox import SandboxResult, run_sandboxed, support_path

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    status: str  # ok, runtime_error, time_limit_exceeded, output_limit_exceeded, ...
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    cpu_ms: int = 0


async def run_batch(
    programs: list[str],
    *,
    time_limit_s: float | None = None,
    memory_limit_mb: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[BatchResult]:
    """One BatchResult per program, in order. Python only (the batch harness forks a
    started interpreter; other languages would exec, which is what `execute()` does)."""
    lang = resolve("python")
    if len(programs) > limits.max_test_cases:
        raise ValueError(f"at most {limits.max_test_cases} programs per batch")
    for program in programs:
        check_sizes(program, "", limits)
    run = limits.clamp(time_limit_s, memory_limit_mb)
    time_s, memory_mb = run.time_limit_s, run.memory_limit_mb
    files = {f"p{i}.py": source for i, source in enumerate(programs)}
    files["batch.json"] = json.dumps(
        {"count": len(programs), "timeout_s": time_s, "max_output": limits.max_output_bytes}
    )
    box = limits.sandbox(
        time_limit_s=time_s,
        address_space_mb=lang.address_space_mb(memory_mb),
        memory_mb=memory_mb,
        wall_time_s=limits.suite_wall_s(time_s, len(programs)),
    )
    argv = [lang.run_cmd[0], support_path("batch_python.py"), "batch.json"]
    with warm.taken(lang, limits, argv[1]) as ready:  # a pre-started sandbox, when the pool has one
        if ready is not None:
            run = await ready.run(files, argv, b"", box, results_channel=True)
            return _results(run, len(programs), time_s)
    with workspace(files) as workdir:
        run = await run_sandboxed(argv, workdir=workdir, limits=box, results_channel=True)
    return _results(run, len(programs), time_s)


def _results(run: SandboxResult, count: int, time_s: float) -> list[BatchResult]:
    found: dict[int, dict] = {}
    for line in run.results.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and record.get("index") in range(count):
            found.setdefault(record["index"], record)
    missing = _missing_status(run)
    return [_classify(found[i], time_s) if i in found else missing for i in range(count)]


def _missing_status(run: SandboxResult) -> BatchResult:
    # The batch ended before this program reported: the whole run's limit was hit.
    if run.output_limit_exceeded:
        return BatchResult("output_limit_exceeded")
    if run.timed_out:
        return BatchResult("time_limit_exceeded")
    if run.memory_exceeded:
        return BatchResult("memory_limit_exceeded")
    return BatchResult("runtime_error", stderr="the batch stopped before this program ran")


def _classify(record: dict, time_s: float) -> BatchResult:
    code, sig = record.get("exit_code"), record.get("signal")
    cpu_ms = record.get("cpu_ms") if isinstance(record.get("cpu_ms"), int) else 0
    if record.get("stdout_truncated") or record.get("stderr_truncated"):
        status = "output_limit_exceeded"
    elif record.get("timed_out") or sig == 24 or cpu_ms > time_s * 1000:  # 24: SIGXCPU
        status = "time_limit_exceeded"
    elif code != 0 or sig is not None:
        status = "runtime_error"
    else:
        status = "ok"
    return BatchResult(
        status,
        stdout=str(record.get("stdout", "")),
        stderr=str(record.get("stderr", "")),
        exit_code=code if isinstance(code, int) else None,
        cpu_ms=cpu_ms,
    )
