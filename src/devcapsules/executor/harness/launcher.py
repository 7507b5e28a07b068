"""In-sandbox supervisor: apply rlimits, run the command, report how it ended.

Runs as `python3 -I -S launcher.py SPEC` inside the sandbox (SPEC: the host's marshal of
the spec, in hex), so it is stdlib only and must start fast: no `json` on the single-run
path (its import, through `re` and `enum`, took 8.5 ms of a ~10 ms start); `marshal` is
built in, and single-run records hold only numbers and booleans.

A cold Python program needs none of it where the run cgroup counts CPU (sandbox.py runs
it in its own interpreter, harness/warm_python.py `--run`, and reads the outcome from
bwrap and the cgroup); everything else still runs under this launcher.

It exists because bubblewrap's own exit status loses what we need:
the exact signal, and the peak memory of the user's process (bwrap's init reaps it, so
rusage never reaches the host). It is also where RLIMIT_NPROC must be set: inside the
sandbox's user namespace the process count is per namespace, so it caps this run only.

Modes:
- single: run `argv` once with the inherited stdin/stdout/stderr; report one record.
- runs:   run `argv` once per stdin file (I/O tests of one compiled binary), stdout/stderr
          captured per run into private temp files; one record per run, then a final one.
- warm:   a pre-started sandbox (warm pool). The user's process is forked at once, joins
          the run's cgroup and (optionally) execs a pre-started interpreter, then waits on
          fd 3, the host's `control_fd`, for its one run (marshal + the run's stdin,
          stdout and stderr and, for a harness, its results pipe, by SCM_RIGHTS); the
          launcher only waits for it and reports like single.
          One run, then everything exits: a warm sandbox is never reused.

Records are JSON lines on `report_fd`. The user's process never inherits that descriptor,
and this process makes itself non-dumpable so the user's process (same uid) cannot open
it through /proc/<pid>/fd or ptrace us. Nothing here decides pass/fail: the host does.
"""

import marshal
import os
import resource
import select
import signal
import sys
import time


def make_undumpable() -> None:
    # PR_SET_DUMPABLE=0: /proc/<pid>/fd becomes root-owned and ptrace is refused.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass


def apply_limits(limits: list) -> None:
    """(resource, soft, hard) triples, worked out by the host (`SandboxLimits.rlimits`)."""
    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def spawn(spec: dict, stdio: tuple | None, results_fd: int | None) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        # Into the run's cgroup first (fail closed: an error here exits before the exec).
        for fd in spec.get("cgroup_fds") or ():
            os.write(fd, b"0")
        os.setpgid(0, 0)  # one group per run so a per-run timeout can kill its children
        if stdio is not None:
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
        if results_fd is not None:
            os.dup2(results_fd, 3)  # the harness protocol: results on fd 3
            os.set_inheritable(3, True)
            os.closerange(4, 1 << 16)
        else:
            os.closerange(3, 1 << 16)
        apply_limits(spec["limits"])
        os.execvp(spec["argv"][0], spec["argv"])
    except BaseException as exc:  # exec failed: say so on stderr, exit like a shell would
        os.write(2, f"launcher: cannot run {spec['argv'][0]}: {exc}\n".encode())
    os._exit(127)


def wait_for(pid: int, timeout_s: float | None) -> tuple[int, object, bool]:
    timed_out = False
    if timeout_s is not None:
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout_s * 1000):
            timed_out = True
            try:  # noqa: SIM105 (contextlib costs start-up time here)
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    return status, usage, timed_out


def describe(status: int, usage, started: float, timed_out: bool) -> dict:
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "max_rss_kb": usage.ru_maxrss,
        "cpu_ms": int((usage.ru_utime + usage.ru_stime) * 1000),
        "time_ms": int((time.monotonic() - started) * 1000),
        "timed_out": timed_out,
    }


def read_capped(path: str, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def run_single(spec: dict, report) -> None:
    started = time.monotonic()
    pid = spawn(spec, None, spec.get("results_fd"))
    if spec.get("results_fd") is not None:
        os.close(spec["results_fd"])  # only the harness child holds it now
    status, usage, timed_out = wait_for(pid, None)
    report(describe(status, usage, started, timed_out))


def run_each(spec: dict, report) -> None:
    tmp = os.environ.get("TMPDIR", "/tmp")
    cap = spec["max_output"]
    for index, run in enumerate(spec["runs"]):
        out_path, err_path = f"{tmp}/.out{index}", f"{tmp}/.err{index}"
        stdin = os.open(run["stdin"], os.O_RDONLY)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        started = time.monotonic()
        pid = spawn(spec, (stdin, out, err), None)
        for fd in (stdin, out, err):
            os.close(fd)
        status, usage, timed_out = wait_for(pid, spec["run_timeout_s"])
        record = describe(status, usage, started, timed_out)
        record["index"] = index
        record["stdout"], record["stdout_truncated"] = read_capped(out_path, cap)
        record["stderr"], record["stderr_truncated"] = read_capped(err_path, cap)
        for path in (out_path, err_path):
            os.unlink(path)  # give the space back to the size-capped tmp
        report(record)


def encode(record: dict) -> str:
    """json.dumps(record) for flat records of numbers, booleans and None, without json;
    a record with text (`runs` mode: each run's output) takes the json module."""
    parts = []
    for key, value in record.items():
        if value is None or isinstance(value, bool):
            text = {None: "null", True: "true", False: "false"}[value]
        elif isinstance(value, int):
            text = str(value)
        else:
            import json

            return json.dumps(record)
        parts.append(f'"{key}": {text}')
    return "{" + ", ".join(parts) + "}"


def receive(sock) -> tuple[bytes, list]:
    import socket

    message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 4)  # stdio [, results]
    return message, fds


def zygote(sock) -> None:
    """The warm child without a pre-started interpreter: wait, then exec the run's argv."""
    import contextlib
    import socket  # loaded already: spawn_warm made `sock` with it

    # Ready, as warm_python.py says it: refused when the run came before (the host's end
    # is closed then; the run waits in the socket).
    with contextlib.suppress(OSError):
        sock.send(b"r", socket.MSG_NOSIGNAL)
    message, fds = receive(sock)
    if not message or not fds:
        os._exit(0)  # drained before any run
    run = marshal.loads(message)  # the host's (warm.py)
    for target, fd in enumerate(fds):  # stdin, stdout, stderr [, the harness's results]
        os.dup2(fd, target)
    os.closerange(len(fds), 1 << 16)
    apply_limits(run["limits"])
    os.execvp(run["argv"][0], run["argv"])


def spawn_warm(spec: dict) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        for fd in spec.get("cgroup_fds") or ():  # joined now: off the request path
            os.write(fd, b"0")
        os.setpgid(0, 0)
        os.dup2(spec["control_fd"], 3)  # the host's end of the run's hand-over
        os.set_inheritable(3, True)
        os.closerange(4, 1 << 16)
        prestart = spec.get("prestart")
        if prestart:
            os.execv(prestart[0], prestart)
        import socket

        zygote(socket.socket(fileno=3))
    except BaseException as exc:
        os.write(2, f"launcher: cannot start the warm process: {exc}\n".encode())
    os._exit(127)


def run_warm(spec: dict, report) -> None:
    """The host hands the run straight to the user's process (the control socket is its
    fd 3, not ours: one wake-up fewer on the request path); this process only waits for
    it and reports. The host closing its end without a run (drained) ends the child."""
    started = time.monotonic()
    pid = spawn_warm(spec)
    os.close(spec["control_fd"])
    status, usage, timed_out = wait_for(pid, None)
    report(describe(status, usage, started, timed_out))


def main() -> None:
    spec = marshal.loads(bytes.fromhex(sys.argv[1]))
    make_undumpable()
    report_fd = spec["report_fd"]

    def report(record: dict) -> None:
        os.write(report_fd, (encode(record) + "\n").encode())

    if spec.get("warm"):
        run_warm(spec, report)
    elif spec.get("runs") is None:
        run_single(spec, report)
    else:
        run_each(spec, report)
    report({"done": True})
    if spec.get("warm"):
        # Nothing of this process is needed after its last record, and the host kills the
        # sandbox on reading it: an interpreter's teardown here only delays the pipes' EOF,
        # which the host waits for before it answers (warm runs: ~3-5 ms of each run).
        os._exit(0)


if __name__ == "__main__":
    main()
