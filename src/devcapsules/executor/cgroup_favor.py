"""Cheap cgroup moves on cgroup v1: hold a hierarchy mounted with `favordynmods`.

Every run's process joins its run cgroup by writing to `cgroup.procs`. On a default
kernel that write takes the global cgroup threadgroup rwsem for writing, whose slow path
waits for an RCU grace period whenever no other move happened in the last few
milliseconds: 5-20 ms per run here (measured: spaced moves p50 9.4 ms, back-to-back ones
0.04 ms), on the request path of every cold run.

The kernel's `favordynmods` mount option (Linux >= 6.0, cgroup v1 and v2) keeps that
rwsem in its slow mode for good, so a move no longer waits for the grace period, at the
cost of slightly dearer forks and exits machine-wide. It is a property of a hierarchy's
mount; the hierarchies we use are the host's, so we do not remount them: we mount a
hierarchy of our own, named and with no controllers (`none,name=devcapsules-favor`), in
a private mount namespace (nobody else sees it), and hold it with one sleeping process
for as long as this host runs (the kernel's effect is global; since 6.18 it even stays
after the last such mount is gone). Isolation is untouched: the user's process still
joins its memory and pids cgroups before it execs, the move is only cheaper.

Only as root (mounting a cgroup needs it); where the kernel lacks the option the mount
fails, is logged, and moves simply stay slow.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import subprocess

from . import hostdir

log = logging.getLogger(__name__)

NAME = "devcapsules-favor"
# The holder: setpriv's PDEATHSIG kills it with us (even on SIGKILL); `exec sleep`
# keeps the same process, so the signal setting survives. PDEATHSIG follows the thread
# that forked it: started from a short-lived thread, the holder goes early, and moves
# are slow again (never less isolated) on kernels before 6.18. Mounted over our own host
# directory inside the private namespace: invisible outside it.
_SCRIPT = (
    f'mount -t cgroup -o none,name={NAME},favordynmods {NAME} "$1" || exit 1\n'
    "echo held\n"
    "exec sleep infinity\n"
)


def hold() -> subprocess.Popen | None:
    """Start the holder; None (logged) if the kernel or the host does not allow it."""
    argv = [
        *("setpriv", "--pdeathsig", "KILL"),
        *("unshare", "--mount", "--propagation", "private"),
        *("/bin/sh", "-c", _SCRIPT, "sh", str(hostdir.host_dir())),
    ]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        log.info("cgroup moves stay slow: cannot start the favordynmods holder (%s)", exc)
        return None
    if proc.stdout.readline() != b"held\n":  # EOF: the mount failed and sh exited
        _, err = proc.communicate()
        log.info("cgroup moves stay slow: %s", err.decode("utf-8", "replace").strip()[:200])
        return None
    proc.stdout.close()
    proc.stderr.close()
    atexit.register(release, proc)
    return proc


def release(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
