"""A run that ends abnormally on our side (its task cancelled, or the supervisor failing
right after the sandbox started) must still kill the sandbox and reap it: no survivor of
the run, and no zombie bwrap left as a child of the host process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid

import pytest

from devcapsules.executor import sandbox
from devcapsules.executor.limits import DEFAULT_LIMITS
from devcapsules.executor.runner import workspace

from .conftest import processes_with

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


@pytest.fixture
def marker():
    value = f"dcmark-{uuid.uuid4().hex}"
    yield value
    for pid in processes_with(value):  # only after a failure: never leave sleepers behind
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _sleeper(marker: str) -> list[str]:
    # The marker is in the user's argv, hence in bwrap's too (the launcher spec).
    return [sandbox.SANDBOX_PYTHON, "-c", "import time; time.sleep(300)", marker]


def _our_children_with(marker: str) -> list[int]:
    children = []
    # bwrap's argv carries the launcher's spec, marshalled and in hex.
    for pid in processes_with(marker.encode().hex()):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        if int(fields["PPid"]) == os.getpid():
            children.append(pid)
    return children


def _program_running(marker: str) -> bool:
    """The user's program itself (the marker as a whole argument, not inside bwrap's JSON
    spec) has started inside the sandbox."""
    for pid in processes_with(marker):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read().split(b"\0"):
                    return True
        except OSError:
            continue
    return False


async def _until(condition, what: str, within_s: float = 30.0) -> None:
    """Poll for a state the test needs before acting (a wait, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"never saw {what}")
        await asyncio.sleep(0.02)


def _assert_gone(marker: str) -> None:
    """The SIGKILL to bwrap's process group ends the run; the kernel then tears its pid
    namespace down (the user's program with it) asynchronously, so allow it a moment.
    Without the kill the program sleeps for minutes, and this fails."""

    async def wait() -> None:
        await _until(lambda: processes_with(marker) == [], "the run's processes gone", 10.0)

    asyncio.run(wait())


def _assert_reaped(pids: list[int]) -> None:
    for pid in pids:
        # A zombie child would still be waitable; a reaped one is no child of ours at all.
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_cancelled_run_leaves_no_process_and_no_zombie(marker):
    limits = DEFAULT_LIMITS.sandbox(time_limit_s=120, address_space_mb=None, memory_mb=64)

    async def scenario() -> list[int]:
        with workspace({}) as workdir:
            task = asyncio.create_task(
                sandbox.run_sandboxed(_sleeper(marker), workdir=workdir, limits=limits)
            )
            # Mid-run: bwrap (our child) and the user's program inside it both exist.
            await _until(lambda: _program_running(marker), "the program running")
            started = _our_children_with(marker)
            assert started, "bwrap should be a child of this process"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return started

    started = asyncio.run(scenario())
    _assert_gone(marker)
    _assert_reaped(started)


def test_a_supervisor_failure_after_start_still_kills_and_reaps(monkeypatch, marker):
    limits = DEFAULT_LIMITS.sandbox(time_limit_s=120, address_space_mb=None, memory_mb=64)
    seen: list[int] = []

    async def broken_attach(*args, **kwargs):
        await _until(lambda: _program_running(marker), "the program running")
        seen.extend(_our_children_with(marker))
        raise RuntimeError("attaching the pipes failed")

    monkeypatch.setattr(sandbox, "_attach", broken_attach)

    async def scenario() -> None:
        with workspace({}) as workdir, pytest.raises(RuntimeError, match="attaching the pipes"):
            await sandbox.run_sandboxed(_sleeper(marker), workdir=workdir, limits=limits)

    asyncio.run(scenario())
    assert seen, "bwrap should have been a child of this process"
    _assert_gone(marker)
    _assert_reaped(seen)
