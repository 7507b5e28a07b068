"""bwrap starts as the sandbox uid, never as root, without Popen's fork-only identity
options (sandbox._unprivileged): what the sandbox sees of its start stays the same."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from devcapsules.executor import execute, sandbox

from .conftest import processes_with, run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has an identity to drop")
def test_bwrap_runs_on_the_host_as_the_sandbox_uid_with_no_groups():
    marker = f"dc-identity-{uuid.uuid4().hex}"
    code = f"import time\n# {marker}\ntime.sleep(30)\n"

    async def scenario() -> dict[str, str]:
        task = asyncio.create_task(execute(code, "python", time_limit_s=10))
        try:
            while True:  # polling for a state (bwrap started), not timing anything
                mine = [
                    p for p in processes_with("bwrap") if _status(p)["PPid"] == str(os.getpid())
                ]
                if mine:
                    return _status(mine[0])
                await asyncio.sleep(0.01)
        finally:
            task.cancel()

    status = run(scenario())
    assert status["Uid"].split() == [str(sandbox.SANDBOX_UID)] * 4
    assert status["Gid"].split() == [str(sandbox.SANDBOX_UID)] * 4
    assert status["Groups"].strip() == ""
    assert int(status["CapEff"], 16) == 0 and int(status["CapInh"], 16) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has an identity to drop")
def test_popen_gets_no_identity_options_so_it_can_vfork():
    launch = sandbox._unprivileged(["bwrap", "--version"], "/opt/x/bwrap", ())
    if launch.identity:
        pytest.skip("no setpriv on this host: Popen drops root itself (slower, same identity)")
    assert launch.argv[-3:] == ["--", "bwrap", "--version"]
    assert launch.popen_kwargs()["env"] == {"PATH": "."}  # no host path in bwrap's environ
    assert launch.popen_kwargs()["cwd"] == "/opt/x"
