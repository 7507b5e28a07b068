"""bench_batch.py's anchor: an UNSANDBOXED fork-per-program harness (what common
code-evaluation harnesses do: a forked process per problem exec'ing its program), at
most CONCURRENCY in flight, in a process of its own that loads nothing but what it needs.

Why a process of its own: a fork copies the parent's page tables, and the child copies
every page it writes (Python's reference counts write to each object touched), so the
cost of a fork grows with the parent. Forked from the bench's own process, with the
application, pydantic and httpx loaded, the same harness cost ~2.5x the CPU per program
(measured: 2.7-3.0 vs 1.15 ms), an anchor that moved with whatever the bench imported.

    python3 bench/_fork_anchor.py SIZE   # then one line on stdin per measurement

Each stdin line (`fork` or `processes`) runs the corpus once and answers one JSON line:
wall seconds, CPU seconds (this process and its reaped children: every child is reaped)
and the verdicts. `fork` is the anchor: a bare `os.fork()` per program, the least a
fork-per-program harness can do. `processes` is what common harnesses actually run
(human-eval's `check_correctness`, say): worker threads, each starting a
`multiprocessing` process per problem (fork start method) that sends its verdict back
through a pipe, joined with a timeout; lighter than human-eval's own (no `Manager`
server process, no temporary directory or guard per problem).

What its children find loaded is what the batch harness preloads for programs, so the
comparison is of isolation, not of preloads: `collections` and `re` come with
multiprocessing and concurrent.futures, `typing` is imported for them (as human-eval's
execution.py does at its top; here when run as the anchor, not when imported, so
bench_preload.py can also measure without it). Without it, each child of a problem that
imports `typing` loads it on its own: ~7.3 vs ~1.6 ms CPU a typed problem
(bench_preload.py), which made the anchor ~2x dearer on bench_batch's corpus (a third of
it typed) once the batch harness preloaded `typing`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _corpus import corpus

CONCURRENCY = 2


def _child(program: str) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    signal.alarm(5)
    try:
        exec(compile(program, "<problem>", "exec"), {"__name__": "__main__"})
    except BaseException:
        os._exit(1)
    os._exit(0)


def fork_harness(programs: list[str]) -> list[bool]:
    """Fork per program, at most CONCURRENCY in flight."""
    verdicts: dict[int, bool] = {}
    running: dict[int, int] = {}
    pending = list(enumerate(programs))
    while pending or running:
        while pending and len(running) < CONCURRENCY:
            index, program = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                _child(program)
            running[pid] = index
        pid, status = os.wait()
        verdicts[running.pop(pid)] = os.waitstatus_to_exitcode(status) == 0
    return [verdicts[i] for i in range(len(programs))]


def _verdict(program: str, conn) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        exec(compile(program, "<problem>", "exec"), {"__name__": "__main__"})
        conn.send(True)
    except BaseException:
        conn.send(False)


def _check(context, program: str) -> bool:
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_verdict, args=(program, send))
    process.start()
    send.close()
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join()
    try:
        return receive.poll(0) and receive.recv()
    finally:
        receive.close()


def process_harness(programs: list[str]) -> list[bool]:
    """A multiprocessing process per program from CONCURRENCY worker threads."""
    context = multiprocessing.get_context("fork")
    with ThreadPoolExecutor(CONCURRENCY) as workers:
        return list(workers.map(lambda program: _check(context, program), programs))


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(-1)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def serve(size: int) -> None:
    programs = corpus(size)
    harnesses = {"fork": fork_harness, "processes": process_harness}
    for line in sys.stdin:
        harness = harnesses[line.strip()]
        cpu, started = _cpu_s(), time.perf_counter()
        verdicts = harness(programs)
        wall = time.perf_counter() - started
        answer = {"wall": wall, "cpu": _cpu_s() - cpu, "verdicts": verdicts}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import typing  # noqa: F401 (for the programs, as the batch harness: see the top)

    serve(int(sys.argv[1]))
