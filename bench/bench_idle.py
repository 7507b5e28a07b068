"""What an idle local host costs the machine, beside the server it runs on.

    .venv/bin/python bench/bench_idle.py [--seconds 10] [--src DIR]

Starts the real local host (`devcapsules dev`, state on a throw-away directory: SQLite
D1/KV/Queues, the queue consumer and the periodic jobs in its process) and, as the anchor,
a raw ASGI app under the same uvicorn set-up (bench_core.py's; what the server alone costs
idle: its own 0.1 s tick). After a warm-up request each is left alone for `--seconds`:
CPU milliseconds per second (the scheduler's count, /proc) and wake-ups per second (voluntary
context switches over all its threads), and the ratio to the anchor. `--src` runs the host
from another source tree (e.g. `git archive <commit> src | tar -x -C /tmp/old`) for a
before/after comparison in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import server_process
from bench_execution import _free_port, _process

ROOT = Path(__file__).resolve().parents[1]


def cpu_and_wakes(pid: int) -> tuple[float, int]:
    """(CPU seconds, voluntary context switches) so far, over every thread of `pid`:
    the scheduler's nanosecond count (/proc/.../schedstat), not clock ticks, whose 10 ms
    step is as large as an idle host's whole second."""
    cpu_ns = switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                cpu_ns += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches += sum(
                    int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt")
                )
    return cpu_ns / 1e9, switches


def idle_figures(pid: int, seconds: float) -> tuple[float, float]:
    """(CPU ms per second, wake-ups per second) of `pid` over `seconds` left alone."""
    (cpu, woken), started = cpu_and_wakes(pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu_after, woken_after = cpu_and_wakes(pid)
    return (cpu_after - cpu) * 1000 / elapsed, (woken_after - woken) / elapsed


@contextlib.contextmanager
def local_host(src: Path) -> Iterator[int]:
    """`devcapsules dev` from `src`, answering; yields its pid."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        args = ["dev", "--port", str(port), "--state-dir", state]
        env = {"PYTHONPATH": str(src), "LOG_LEVEL": "error"}
        with _process(args, env, f"http://127.0.0.1:{port}/health") as process:
            time.sleep(1)  # past start-up's own work (the first pass, the sandbox probe)
            yield process.pid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--src", type=Path, help="also run the host from this source tree")
    args = parser.parse_args()
    rows = []
    with server_process("raw") as (port, pid):
        httpx.get(f"http://127.0.0.1:{port}/health")
        time.sleep(1)
        rows.append(("raw ASGI app, same uvicorn (anchor)", *idle_figures(pid, args.seconds)))
    trees = [("devcapsules dev, this tree", ROOT / "src")]
    if args.src:
        trees.append((f"devcapsules dev, {args.src}", args.src))
    for label, src in trees:
        with local_host(src) as pid:
            rows.append((label, *idle_figures(pid, args.seconds)))
    print(f"idle for {args.seconds:.0f} s after one request\n")
    print(f"{'':<40}{'CPU ms/s':>10}{'wakes/s':>10}{'x anchor':>10}")
    anchor = rows[0][1]
    for label, cpu, woken in rows:
        print(f"{label:<40}{cpu:>10.2f}{woken:>10.1f}{cpu / anchor:>10.2f}")


if __name__ == "__main__":
    main()
