"""Nothing left behind: one scratch directory per host process, removed at exit, and the
directories of a host that died (SIGKILL: no atexit) swept by the next one to start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from devcapsules.executor import hostdir

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]

HOST = """
import asyncio, sys
from devcapsules.executor import execute, hostdir
print(hostdir.host_dir(), flush=True)
for code in sys.argv[1:]:
    result = asyncio.run(execute(code, "python", time_limit_s=10))
    print(result.status, flush=True)
    if result.status != "ok":  # for the test's failure report (stderr is not parsed)
        print(result.stderr[-800:], result.exit_code, result.signal, file=sys.stderr)
"""


@pytest.fixture
def tmpdir_root():
    root = tempfile.mkdtemp(prefix="dc-hosts-")
    os.chmod(root, 0o755)  # bwrap, as the sandbox uid, must traverse it
    yield Path(root)
    shutil.rmtree(root, ignore_errors=True)


def start_host(root: Path, *programs: str) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(root)}
    return subprocess.Popen(
        [sys.executable, "-c", HOST, *programs], env=env, stdout=subprocess.PIPE, text=True
    )


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_one_directory_per_host_removed_at_exit(tmpdir_root):
    host = start_host(tmpdir_root, "print(1)", "open('/tmp/x', 'w').write('y')")
    out, _ = host.communicate(timeout=120)
    directory, *statuses = out.split()
    assert statuses == ["ok", "ok"]
    assert Path(directory).parent == tmpdir_root
    assert leftovers(tmpdir_root) == []  # no support-* or run-* directory of any name


def test_a_killed_hosts_directory_is_swept_by_the_next_host(tmpdir_root):
    host = start_host(tmpdir_root, "import time\ntime.sleep(60)")
    directory = Path(host.stdout.readline().strip())
    runs = directory / "runs"
    while not any(runs.iterdir()):  # the run's work directory exists: the run started
        assert host.poll() is None
        time.sleep(0.01)  # polling for a state, not timing anything
    host.send_signal(signal.SIGKILL)
    host.wait()
    assert leftovers(tmpdir_root) == [directory.name]  # SIGKILL: nothing could clean up
    assert any(runs.iterdir())

    successor = start_host(tmpdir_root, "print(2)")
    out, _ = successor.communicate(timeout=120)
    assert out.split()[1:] == ["ok"]
    assert leftovers(tmpdir_root) == []


def test_the_sweep_leaves_a_live_hosts_directory_alone():
    mine = hostdir.host_dir()
    assert hostdir.sweep(str(mine.parent)) >= 0
    assert (mine / "support").is_dir()


def test_a_dev_server_stopped_with_sigterm_leaves_nothing(tmpdir_root):
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmpdir_root / "state"
    env = {**os.environ, "TMPDIR": str(tmpdir_root)}
    cli = [sys.executable, "-m", "devcapsules.local.cli", "dev", "--port", str(port)]
    server = subprocess.Popen(
        [*cli, "--state-dir", str(state)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in server.stdout:  # the start-up line about the sandbox: it is ready
            if '"sandbox_ready"' in line:
                break
        # That line comes before the server binds its port: wait until it answers.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/api/v1/execute"
        body = {"source_code": "print(1)", "language": "python"}
        assert httpx.post(url, json=body, timeout=60).json()["stdout"] == "1\n"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        server.kill()
        server.wait()
    assert leftovers(tmpdir_root) == ["state"]


def _without_tmpdir() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "TMPDIR"}


@pytest.mark.skipif(not hostdir._roomy_tmpfs(hostdir.SHM), reason="no roomy tmpfs at /dev/shm")
def test_without_tmpdir_a_host_runs_in_a_roomy_tmpfs_and_leaves_nothing():
    # Each run's directory is made and removed on a tmpfs, not a journaled disk.
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, "print(1)"],
        env=_without_tmpdir(),
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = host.communicate(timeout=120)
    directory, status = out.split()
    assert status == "ok"
    assert Path(directory).parent == Path(hostdir.SHM)
    assert not Path(directory).exists()


def test_an_explicit_tmpdir_wins_over_the_tmpfs(tmpdir_root):
    host = start_host(tmpdir_root, "print(1)")
    out, _ = host.communicate(timeout=120)
    assert Path(out.split()[0]).parent == tmpdir_root


def _mounts(tmp_path: Path, line: str) -> Path:
    table = tmp_path / "mounts"
    table.write_text(f"proc /proc proc rw 0 0\n{line}\n")
    return table


@pytest.mark.parametrize(
    ("line", "room", "roomy"),
    [
        ("tmpfs {path} tmpfs rw,nosuid,nodev 0 0", 0, True),
        ("/dev/vda {path} ext4 rw,relatime 0 0", 0, False),  # a disk: the point is moot
        ("tmpfs {path} tmpfs rw 0 0", 1 << 60, False),  # too small (a container's 64 MB)
    ],
)
def test_the_tmpfs_must_be_one_and_roomy(tmp_path, monkeypatch, line, room, roomy):
    place = tmp_path / "shm"
    place.mkdir()
    monkeypatch.setattr(hostdir, "MOUNTS", str(_mounts(tmp_path, line.format(path=place))))
    monkeypatch.setattr(hostdir, "TMPFS_ROOM_BYTES", room)
    assert hostdir._roomy_tmpfs(str(place)) is roomy
    monkeypatch.setattr(hostdir, "SHM", str(place))
    monkeypatch.delenv("TMPDIR", raising=False)
    assert (hostdir.base_dir() == str(place)) is roomy
    assert str(place) in hostdir.bases()  # swept either way


def test_a_noexec_or_missing_tmpfs_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(hostdir, "TMPFS_ROOM_BYTES", 0)
    assert not hostdir._roomy_tmpfs(str(tmp_path / "absent"))
    place = tmp_path / "shm"
    place.mkdir()
    monkeypatch.setattr(hostdir, "MOUNTS", str(_mounts(tmp_path, f"tmpfs {place} tmpfs rw 0 0")))

    class NoExec:
        f_flag, f_bavail, f_frsize = os.ST_NOEXEC, 1 << 40, 4096

    monkeypatch.setattr(hostdir.os, "statvfs", lambda path: NoExec)
    assert not hostdir._roomy_tmpfs(str(place))


def test_the_sweep_looks_in_every_base(tmp_path, monkeypatch):
    # A host that died under another base (say, before /dev/shm was roomy) is swept too.
    elsewhere = tmp_path / "elsewhere"
    dead = elsewhere / f"{hostdir.PREFIX}dead"
    (dead / "runs").mkdir(parents=True)
    (dead / ".lock").write_text("")  # nobody holds it: its host is gone
    monkeypatch.setattr(hostdir, "SHM", str(elsewhere))
    assert hostdir.sweep() >= 1
    assert not dead.exists()
