"""Start the real local host (`devcapsules dev`) in a subprocess for HTTP-level tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def dev_server(state_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    with dev_process(state_dir, extra_env) as (base, _):
        yield base


def dev_command(port: int, state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "devcapsules.local.cli", "dev", "--port", str(port),
            "--state-dir", str(state_dir)]  # fmt: skip


@contextlib.contextmanager
def dev_process(
    state_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's base URL and its process (for tests that kill it)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    env.update(extra_env or {})
    log_path = state_dir.parent / f"server-{port}.log"
    with serving(dev_command(port, state_dir), env, port, log_path) as process:
        yield f"http://127.0.0.1:{port}", process


@contextlib.contextmanager
def serving(
    argv: list[str], env: dict[str, str], port: int, log_path: Path, *, stdout_pipe: bool = False
) -> Iterator[subprocess.Popen]:
    """Run a server until the block ends: started, answering /health, then terminated.
    Its stderr (and stdout, unless `stdout_pipe` hands that to the test) go to `log_path`."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=log if stdout_pipe else subprocess.STDOUT,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process, str(log_path))
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# How long a dev server may take to come up: a bound, not a measurement. With Miniflare
# bindings the bridge alone took 21 s on a loaded 2-core machine; a passing start-up is
# not slowed by a generous bound, and a hung one still fails with its log.
READY_WITHIN_S = 120


def _wait_ready(base: str, process: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dev server exited: {Path(log_path).read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"dev server not ready: {Path(log_path).read_text()[-2000:]}")


def read_log_lines(state_dir: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(state_dir.parent.glob("server-*.log")):
        lines.extend(path.read_text().splitlines())
    return lines


@contextlib.contextmanager
def executor_service_process(
    log_dir: Path, key: str, *options: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`devcapsules executor serve` in a subprocess on a dynamic port (its base URL and
    process); `options` are its CLI flags (e.g. --concurrency 1 --queue-depth 1)."""
    port = free_port()
    env = {**os.environ, "AWS_EXECUTOR_API_KEY": key, "LOG_LEVEL": "warn"}
    argv = ["-m", "devcapsules.local.cli", "executor", "serve", "--port", str(port), *options]
    log_path = log_dir / f"executor-{port}.log"
    with serving([sys.executable, *argv], env, port, log_path) as process:
        yield f"http://127.0.0.1:{port}", process
