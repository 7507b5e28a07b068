"""Memory of the API when the remote executor answers hugely, beside a normal answer.

    .venv/bin/python bench/bench_executor_answers.py [--runs 5] [--src DIR]

Starts the real local host (`devcapsules dev`, default backend `remote`) pointed at a
loopback peer (`tests.support.peers`) that answers `/api/v1/execute` with a well-formed
result, first with a 12-byte stdout (the anchor row), then with a 20 MB stdout. Each row
sends `--runs` requests and reports the host's resident set size (VmRSS) when idle and
after them, the growth, and the statuses it answered; the last line is the ratio of the two
growths. `--src` runs the host from another source tree (e.g. an export of an older
commit: `git archive <commit> src | tar -x -C /tmp/old`) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.peers import Behaviour, misbehaving_peer  # noqa: E402
from tests.support.server import free_port  # noqa: E402

RESULT = {
    "status": "ok",
    "stdout": "Hello World\n",
    "stderr": "",
    "exitCode": 0,
    "signal": None,
    "compileOutput": "",
    "timeMs": 12,
    "memoryKb": 900,
    "stdoutTruncated": False,
    "stderrTruncated": False,
    "language": "python",
    "version": "3.11",
}
HUGE = {**RESULT, "stdout": "x" * (20 * 1000 * 1000)}
PROGRAM = {"source_code": "print('Hello World')", "language": "python"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def host(executor_url: str, src: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "EXECUTOR_BACKEND_DEFAULT": "remote",
        "EXECUTOR_URL": executor_url,
        "LOG_LEVEL": "error",
        "PLAN_FREE_REQUESTS_PER_MINUTE": "unlimited",
        "PLAN_FREE_REQUESTS_PER_DAY": "unlimited",
    }
    with tempfile.TemporaryDirectory() as state:
        command = [sys.executable, "-m", "devcapsules.local.cli", "dev", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--state-dir", state],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("devcapsules dev did not start")
                time.sleep(0.1)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def row(name: str, answer: dict, runs: int, src: Path) -> float:
    peer_cm = misbehaving_peer(Behaviour(body=json.dumps(answer).encode()))
    with peer_cm as peer, host(peer.url, src) as (base, pid):
        http = httpx.Client(base_url=base, timeout=120)
        before = rss_mb(pid)  # idle host; lazy imports on the execute path count in both rows
        statuses = [http.post("/api/v1/execute", json=PROGRAM).status_code for _ in range(runs)]
        http.close()
        time.sleep(1)  # let the allocator settle before reading RSS
        after = rss_mb(pid)
    growth = after - before
    print(
        f"{name:<28} RSS {before:6.1f} -> {after:6.1f} MB  (+{growth:5.1f} MB)  "
        f"statuses {sorted(set(statuses))}"
    )
    return growth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    args = parser.parse_args()
    print(f"source: {args.src}; {args.runs} requests per row")
    anchor = row("12-byte stdout (anchor)", RESULT, args.runs, args.src)
    huge = row("20 MB stdout", HUGE, args.runs, args.src)
    print(f"growth, 20 MB vs anchor: {huge - anchor:+.1f} MB")


if __name__ == "__main__":
    main()
