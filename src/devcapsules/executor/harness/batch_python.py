"""Batch harness: many small independent Python programs in one sandbox, one process each.

`python3 batch_python.py batch.json`: for each program (files p0.py, p1.py, ... in the
work directory), fork a child that runs it as `__main__` (fresh globals, sys.argv set),
with its stdout/stderr in private files, in its own process group, under the launcher's
rlimits (a forked child starts with its own CPU-time count) and a per-program deadline.
After each program every other process in the sandbox but this harness and its
ancestors is SIGKILLed and /tmp emptied, so a program cannot leave anything for the
next one. One JSON line per program on fd 3; the host classifies, trusting nothing here.

A program is `p<i>.py` by default; batch.json's optional `programs` list says otherwise
per program: `path` and `argv` (a support harness such as python_harness.py, run as
`__main__` on its own config), `timeout_s` and `cpu_s` (its own deadline and CPU limit),
and `channel` (a private file becomes its fd 3; its content travels in its record, so a
function-test harness reports as in a run of its own).

Why one sandbox for many programs: the sandbox's start (namespaces, mounts, two
interpreters) costs ~50 ms of CPU, a forked program ~2 ms; a batch is one principal's
work (a creator's publish check, a grading job, generation candidates), so the boundary
that matters, between principals and the host, is the sandbox's, unchanged.
"""

import contextlib
import json
import os
import resource  # the children's CPU limit: loaded once here, not in every fork
import select
import shutil
import signal
import sys
import tempfile  # the function-test harness's: loaded once, not per fork
import time
import traceback

RESULTS_FD = 3


def run_child(path: str, out: int, err: int, argv: list, chan, cpu_s) -> None:
    os.setpgid(0, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    if chan is not None:  # replaces our results fd in the child: it never sees ours
        os.dup2(chan, RESULTS_FD)
    os.closerange(3 if chan is None else 4, 1 << 16)
    if cpu_s is not None:  # lower only: the launcher's hard limit stays the ceiling
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = cpu_s if hard == resource.RLIM_INFINITY else min(cpu_s, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    sys.argv = argv
    main = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    code = 0
    try:
        exec(SUPPORT.get(path) or load(path), main)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # the program's frames only, not this harness's
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


# Support scripts (absolute paths on the read-only support mount, never a program's
# own file) are compiled once, here, before the first fork: not once per program.
SUPPORT: dict = {}


def load(path: str):
    with open(path, "rb") as f:
        return compile(f.read(), path, "exec")


def wait(pid: int, timeout_s: float) -> tuple[int, object, bool]:
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], timeout_s)
    os.close(pidfd)
    if not ready:
        os.killpg(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage, not ready


# A program's leftovers must be gone, not only signalled, before the next one starts:
# SIGKILL is delivered asynchronously, and an orphan (a daemonised child) is reaped by the
# sandbox's init, not by us, so its /proc entry lingers until then.
GONE_WITHIN_S = 5.0
LEFTOVERS_SURVIVED = 70  # exit status: the host fails the rest of the batch


def others() -> list:
    keep = {os.getpid(), os.getppid(), 1}
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if pid not in keep]


def kill_the_rest() -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    while True:
        left = others()
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reap_ours()
        if not left:
            return
        if time.monotonic() > deadline:
            os._exit(LEFTOVERS_SURVIVED)  # never run the next program beside a survivor
        time.sleep(0.001)


def reap_ours() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def empty_tmp(keep: set) -> None:
    for name in os.listdir("/tmp"):
        path = os.path.join("/tmp", name)
        if path in keep:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def read_capped(path: str, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def make_undumpable() -> None:
    # A program could otherwise open /proc/<harness>/fd/3 (same uid) and write the
    # records of the programs after it; undumpable, that is root-only, ptrace refused.
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)


def program(batch: dict, index: int) -> dict:
    given = batch.get("programs") or [{}] * batch["count"]
    entry = given[index]
    path = entry.get("path", f"p{index}.py")
    return {
        "path": path,
        "argv": entry.get("argv", [path]),
        "timeout_s": entry.get("timeout_s", batch["timeout_s"]),
        "cpu_s": entry.get("cpu_s"),
        "channel": bool(entry.get("channel")),
    }


def private(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def main() -> None:
    make_undumpable()
    with open(sys.argv[1]) as f:
        batch = json.load(f)
    # Found once, before the forks: each child would otherwise probe /tmp (create, write
    # and remove a file) on its first temporary file. The answer is the same for every
    # program (the sandbox's /tmp; the environment is the sandbox's, cleared).
    tempfile.gettempdir()
    cap, channel_cap = batch["max_output"], batch.get("max_channel", 0)
    out_path, err_path, chan_path = "/tmp/.batch-out", "/tmp/.batch-err", "/tmp/.batch-chan"
    for index in range(batch["count"]):
        entry = program(batch, index)
        if os.path.isabs(entry["path"]) and entry["path"] not in SUPPORT:
            SUPPORT[entry["path"]] = load(entry["path"])
        out, err = private(out_path), private(err_path)
        chan = private(chan_path) if entry["channel"] else None
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            run_child(entry["path"], out, err, entry["argv"], chan, entry["cpu_s"])
        for fd in (out, err, chan):
            if fd is not None:
                os.close(fd)
        status, usage, timed_out = wait(pid, entry["timeout_s"])
        kill_the_rest()
        record = {
            "index": index,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "wall_ms": int((time.monotonic() - started) * 1000),
            "cpu_ms": int((usage.ru_utime + usage.ru_stime) * 1000),
            "max_rss_kb": usage.ru_maxrss,
        }
        record["stdout"], record["stdout_truncated"] = read_capped(out_path, cap)
        record["stderr"], record["stderr_truncated"] = read_capped(err_path, cap)
        if entry["channel"]:
            record["results"], record["results_truncated"] = read_capped(chan_path, channel_cap)
        empty_tmp(set())
        os.write(RESULTS_FD, (json.dumps(record) + "\n").encode())


if __name__ == "__main__":
    main()
