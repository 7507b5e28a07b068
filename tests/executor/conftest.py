import asyncio
import os

import pytest

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
