"""Start the real local host (`devcapsules dev`) in a subprocess for HTTP-level tests."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@functools.cache
def _refusing_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: held for the whole test run
    return sock


def refused_url() -> str:
    """A loopback URL whose connections are refused, for "the dependency is down" tests.

    Not a `free_port()`: a port that is free now can be taken by another test's server
    before the request (its answer then reads as a bad answer, not an outage). This port
    stays bound, without listening, for the life of the test process: a connect gets
    ECONNREFUSED and no server can bind it."""
    return f"http://127.0.0.1:{_refusing_socket().getsockname()[1]}"


@contextlib.contextmanager
def dev_server(state_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    with dev_process(state_dir, extra_env) as (base, _):
        yield base


def dev_command(port: int, *, state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "devcapsules.local.cli", "dev", "--port", str(port),
            "--state-dir", str(state_dir)]  # fmt: skip


@contextlib.contextmanager
def dev_process(
    state_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's base URL and its process (for tests that kill it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    env.update(extra_env or {})
    command = functools.partial(dev_command, state_dir=state_dir)
    with serving(command, env, state_dir.parent, "server") as (base, process, _):
        yield base, process


# A free port is only free when it is picked: another process may bind it before the
# server does (Miniflare's bridge listens on fresh ports while a test session runs). The
# server then fails to bind and the other one answers /health: readiness asks for OUR
# /health (every answer of ours carries X-Request-Id) and a lost port is tried again.
START_ATTEMPTS = 5
# How long a server may take to come up: a bound, not a measurement. With Miniflare
# bindings the bridge alone took 21 s on a loaded 2-core machine; a passing start-up is
# not slowed by a generous bound, and a hung one still fails with its log.
READY_WITHIN_S = 120


@contextlib.contextmanager
def serving(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    log_dir: Path,
    name: str,
    *,
    stdout_pipe: bool = False,
) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """Run `command(port)` until the block ends: started on a free port, answering our
    /health, then terminated. Yields the base URL, the process and its log
    (`<log_dir>/<name>-<port>.log`: stderr, and stdout unless `stdout_pipe` hands that to
    the test)."""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        log_path = log_dir / f"{name}-{port}.log"
        base = f"http://127.0.0.1:{port}"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command(port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE if stdout_pipe else log,
                stderr=log if stdout_pipe else subprocess.STDOUT,
            )
            try:
                if _wait_ready(base, process, log_path):
                    yield base, process, log_path
                    return
            finally:
                _stop(process)
        log_path.rename(log_dir / f"lost-port-{name}-{port}.log")  # not this server's log
    raise RuntimeError(f"{name}: every port tried was taken by another process")


def _wait_ready(base: str, process: subprocess.Popen, log_path: Path) -> bool:
    """True once our server answers /health; False if another process has its port."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text()
            if "address already in use" in log.lower():
                return False
            raise RuntimeError(f"server exited: {log[-2000:]}")
        try:
            answer = httpx.get(f"{base}/health", timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        if "x-request-id" not in answer.headers:
            return False  # someone else's server on the port we picked
        if answer.status_code == 200:
            return True
        time.sleep(0.1)
    raise RuntimeError(f"server not ready: {log_path.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.stdout is not None:
        process.stdout.close()
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_log_lines(state_dir: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(state_dir.parent.glob("server-*.log")):
        lines.extend(path.read_text().splitlines())
    return lines


@contextlib.contextmanager
def executor_service_process(
    log_dir: Path, key: str, *options: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`devcapsules executor serve` in a subprocess on a dynamic port (its base URL and
    process); `options` are its CLI flags (e.g. --concurrency 1 --queue-depth 1), `env`
    variables set on top of this process's."""
    env = {**os.environ, **(env or {}), "AWS_EXECUTOR_API_KEY": key, "LOG_LEVEL": "warn"}

    def command(port: int) -> list[str]:
        cli = ["-m", "devcapsules.local.cli", "executor", "serve", "--port", str(port)]
        return [sys.executable, *cli, *options]

    with serving(command, env, log_dir, "executor") as (base, process, _):
        yield base, process
