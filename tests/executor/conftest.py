import asyncio
import os
import subprocess
import uuid

import pytest

from devcapsules.executor import resolve
from devcapsules.executor.languages import discover
from devcapsules.executor.sandbox import SandboxUnavailable, detect_sandbox


@pytest.fixture(scope="session")
def sandbox():
    try:
        return detect_sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this host: {exc}")


def run(coro):
    return asyncio.run(coro)


def require_language(name: str) -> None:
    if name not in discover():
        pytest.skip(f"{name} toolchain not available to the sandbox on this host")


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker` (pgrep -f without the dependency)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture
def marker():
    """A unique string to put in the argv of the processes a test's program starts; the
    test fails if one of them outlived its run."""
    value = f"dcmark-{uuid.uuid4().hex}"
    yield value
    assert processes_with(value) == [], "a sandboxed process survived its run"


WARM_SIZES = {"python": 1, "javascript": 1}


@pytest.fixture(params=["cold", "warm"])
def pool_mode(request, sandbox):
    """Run the test twice: every run cold, then every interpreted run in a warm sandbox
    (the pool refills synchronously here, so each `execute` finds one ready)."""
    from devcapsules.executor import warm

    if request.param == "cold":
        warm.configure({})
        yield None
        return
    yield restart_pool({n: c for n, c in WARM_SIZES.items() if n in discover()})
    warm.configure({})


def restart_pool(sizes: dict | None = None):
    """(Re)start the warm pool, e.g. after a test patched how sandboxes are built; it
    refills synchronously, so every run of the test finds a warm sandbox ready."""
    from devcapsules.executor import warm

    current = warm.pool()
    sizes = sizes if sizes is not None else (current.sizes if current else {})
    pool = warm.configure(sizes)
    if pool is not None:
        pool.refill_soon = pool.fill
    return pool


def warm_cgroup_dirs() -> set:
    from devcapsules.executor import warm

    pool = warm.pool()
    return pool.cgroup_dirs() if pool is not None else set()


def bare_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    """`code` as main.py under the sandbox's interpreter run bare on the host, in the
    sandbox's environment (none of ours): what a sandboxed run is compared with."""
    script = tmp_path / "main.py"
    script.write_bytes(code.encode())
    python = resolve("python").run_cmd[0]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run([python, str(script)], capture_output=True, timeout=30, env=env)
