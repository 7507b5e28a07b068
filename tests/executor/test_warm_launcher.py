"""The warm launcher leaves as soon as its last record is written: nothing of it is
needed after that, and its interpreter's teardown only kept the run's pipes open while
the host waited for their EOF before answering (bench/bench_run_path.py)."""

from __future__ import annotations

import marshal
import os
import socket
import subprocess
import sys
from pathlib import Path

import devcapsules.executor

LAUNCHER = Path(devcapsules.executor.__file__).parent / "harness" / "launcher.py"

# Runs the launcher as `python3 launcher.py <spec>` would, with an atexit handler that
# says when the interpreter starts its teardown (os._exit skips it).
WRAPPER = """
import atexit, os, runpy, sys
atexit.register(lambda: os.write(2, b"interpreter teardown\\n"))
sys.argv = [sys.argv[1], sys.argv[2]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_launcher(spec: dict, keep: tuple[int, ...]) -> tuple[subprocess.CompletedProcess, bytes]:
    report_r, report_w = os.pipe()
    spec = {**spec, "report_fd": report_w}
    try:
        done = subprocess.run(
            [sys.executable, "-c", WRAPPER, str(LAUNCHER), marshal.dumps(spec).hex()],
            pass_fds=(report_w, *keep),
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(report_w)
    with os.fdopen(report_r, "rb") as reports:
        return done, reports.read()


def test_a_warm_launcher_exits_after_its_last_record_without_a_teardown():
    host_end, box_end = socket.socketpair()
    host_end.close()  # drained before any run: the launcher's child sees EOF and exits
    try:
        spec = {"warm": True, "control_fd": box_end.fileno(), "cgroup_fds": [], "prestart": None}
        done, reports = run_launcher(spec, (box_end.fileno(),))
    finally:
        box_end.close()
    assert done.returncode == 0, done.stderr
    assert b'"done"' in reports.splitlines()[-1]  # its last record was written
    assert b"interpreter teardown" not in done.stderr


def test_the_probe_sees_the_teardown_of_a_script_that_ends_normally(tmp_path):
    script = tmp_path / "ends.py"
    script.write_text("pass\n")
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(script), ""], capture_output=True, timeout=60
    )
    assert done.returncode == 0 and b"interpreter teardown" in done.stderr


# The warm process as a pre-started interpreter: it tells the host, over its fd 3, which
# process made the socket at the other end (SO_PEERCRED: the creator of a socketpair).
PEER = """
import socket, struct
sock = socket.socket(fileno=3)
pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
sock.sendall(str(pid).encode())
"""


def test_the_host_hands_the_run_straight_to_the_warm_process(tmp_path):
    """No launcher in between on the request path: the warm process's fd 3 is the
    host's own socket, so the run reaches it without waking the launcher first."""
    script = tmp_path / "peer.py"
    script.write_text(PEER)
    host_end, box_end = socket.socketpair()
    try:
        spec = {
            "warm": True,
            "control_fd": box_end.fileno(),
            "cgroup_fds": [],
            "prestart": [sys.executable, str(script)],
        }
        done, reports = run_launcher(spec, (box_end.fileno(),))
        box_end.close()
        assert done.returncode == 0, done.stderr
        assert host_end.recv(64) == str(os.getpid()).encode()  # the host made it
    finally:
        host_end.close()
        box_end.close()
    assert b'"exit_code": 0' in reports.splitlines()[0]  # the launcher still reports
