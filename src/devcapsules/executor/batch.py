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
from .languages import Language, resolve
from .limits import DEFAULT_LIMITS, Limits
from .runner import check_sizes, workspace
from .sandbox import SandboxLimits, SandboxResult, run_sandboxed, support_path

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
    run = await in_one_sandbox(lang, limits, files, box)
    return _results(run, len(programs), time_s)


async def in_one_sandbox(
    lang: Language, limits: Limits, files: dict[str, str], box: SandboxLimits
) -> SandboxResult:
    """The batch harness over `files` (batch.json and the programs) in one sandbox: a
    pre-started one when the warm pool has one, else a cold one with the same options."""
    argv = [lang.run_cmd[0], support_path("batch_python.py"), "batch.json"]
    with warm.taken(lang, limits, argv[1]) as ready:
        if ready is not None:
            return await ready.run(files, argv, b"", box, results_channel=True)
    with workspace(files) as workdir:
        return await run_sandboxed(
            argv, workdir=workdir, limits=box, mounts=lang.mounts, results_channel=True
        )


def records(run: SandboxResult, count: int) -> dict[int, dict]:
    """The harness's records by program index (first one wins; malformed lines ignored)."""
    found: dict[int, dict] = {}
    for line in run.results.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        index = record.get("index") if isinstance(record, dict) else None
        if type(index) is int and 0 <= index < count:
            found.setdefault(index, record)
    return found


def _results(run: SandboxResult, count: int, time_s: float) -> list[BatchResult]:
    found = records(run, count)
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
