"""A cold Python hello world's instructions, process by process, against the anchor.

    .venv/bin/python bench/bench_cold_instructions.py [--host-runs 10] [--functions 12]

The wall clock of this shared 2-core machine moves with its neighbours; instruction
counts do not. `valgrind --tool=callgrind` counts the user-space instructions of every
process of one cold run and of one minimal `bwrap --unshare-all ... python3 -c
"print('Hello World')"` spawn (the anchor, bench/_cold_path.py's): bwrap (its monitor,
its namespace child up to the program's fork, its pid 1, its program's process up to the
exec), setpriv, sh, the sandbox's python3; then this host process's own instructions per
run (a child interpreter under callgrind running N and N + host-runs runs: the
difference over host-runs). The kernel's work (namespaces, mounts, execs, page faults,
cgroup files) is not counted here: `bench_execution.py`'s CPU column has it.

How: valgrind sits between setpriv and bwrap (`--trace-children`, dumping before each
exec, and for bwrap alone before its clone and fork, so no process counts another's
instructions), and the sandbox gets one extra bind, a scratch directory at its own path,
for the files; setpriv runs alone, as a run starts it. Two differences from a real run:
`ulimit -n` is left out (valgrind refuses to move the hard descriptor limit), and valgrind
3.19 has no `pidfd_open`, so the host child waits through a pipe a thread fills (its own
cost, measured apart, is taken out).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _cold_path

from devcapsules.executor import execute, sandbox

CALLGRIND = [shutil.which("valgrind") or "valgrind", "--tool=callgrind", "--vgdb=no"]
PARTS = ["--trace-children=yes", "--dump-before=execve*"]
BWRAP_ALONE = ["--dump-before=raw_clone", "--dump-before=fork"]  # bwrap's own functions


def _totals(out: str) -> list[tuple[str, int]]:
    """(command, instructions) of every callgrind file in `out`."""
    found = []
    for path in sorted(Path(out).glob("cg.*")):
        text = path.read_text(errors="replace")
        summary = re.search(r"^summary: (\d+)", text, re.M)
        command = re.search(r"^cmd: +(\S+)", text, re.M)
        if summary and command:
            found.append((os.path.basename(command.group(1)), int(summary.group(1))))
    return found


def _valgrind(out: str, *extra: str) -> list[str]:
    return [*CALLGRIND, *PARTS, *extra, f"--callgrind-out-file={out}/cg.%p"]


@contextlib.contextmanager
def _scratch():
    out = tempfile.mkdtemp(prefix="cg-", dir="/tmp")
    os.chmod(out, 0o777)  # the sandbox's processes write here as uid 65534
    try:
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def anchor(bwrap_alone: bool) -> dict[str, int]:
    with _scratch() as out:
        argv = [*_cold_path._minimal(sandbox.detect_sandbox().path), "--bind", out, out]
        extra = [*BWRAP_ALONE, "--trace-children-skip=*python3*"] if bwrap_alone else []
        env = {**os.environ, "TMPDIR": out}  # valgrind's own files; the anchor has no /tmp
        done = subprocess.run(
            [*_valgrind(out, *extra), *argv, *_cold_path.HELLO], capture_output=True, env=env
        )
        assert done.stdout == b"Hello World\n", done.stderr[-2000:]
        return _by_process(_totals(out), bwrap_alone)


def _by_process(totals: list[tuple[str, int]], bwrap_alone: bool) -> dict[str, int]:
    summed: dict[str, int] = {}
    for command, count in totals:
        if bwrap_alone or command != "bwrap":  # bwrap's parts only when dumped apart
            summed[command] = summed.get(command, 0) + count
    return summed


@contextlib.contextmanager
def _wrapped(out: str, extra: list[str]):
    """Runs started inside: valgrind between setpriv and bwrap, `out` bound at its path."""
    popen, bwrap_args, ulimits = subprocess.Popen, sandbox._bwrap_args, sandbox._ulimit_commands

    class Wrapped(popen):
        def __init__(self, args, *a, **kw):
            if os.path.basename(args[0]) == "setpriv" and "--" in args:
                cut = args.index("--") + 1
                args = [*args[:cut], *_valgrind(out, *extra), *args[cut:]]
            super().__init__(args, *a, **kw)

    def with_scratch(*a, **kw):
        args = bwrap_args(*a, **kw)
        at = args.index("--remount-ro")
        return [*args[:at], "--bind", out, out, *args[at:]]

    def without_nofile(rlimits):
        text = ulimits(rlimits)
        kept = [c for c in (text or "").split(" && ") if not c.startswith("ulimit -n")]
        return " && ".join(kept) if text else text

    subprocess.Popen, sandbox._bwrap_args = Wrapped, with_scratch
    sandbox._ulimit_commands = without_nofile
    try:
        yield
    finally:
        subprocess.Popen, sandbox._bwrap_args, sandbox._ulimit_commands = (
            popen,
            bwrap_args,
            ulimits,
        )


def ours(bwrap_alone: bool) -> dict[str, int]:
    with _scratch() as out:
        extra = [*BWRAP_ALONE, "--trace-children-skip=/bin/sh,*python3*"] if bwrap_alone else []
        with _wrapped(out, extra):
            result = asyncio.run(execute("print('Hello World')", "python", time_limit_s=60))
        assert result.stdout == "Hello World\n", result
        return _by_process(_totals(out), bwrap_alone)


def setpriv() -> int:
    """setpriv as a run starts it (sandbox._unprivileged), alone: up to its exec."""
    with _scratch() as out:
        launch = sandbox._unprivileged(["/bin/true"], "/bin/true", ())
        if launch.executable != sandbox._setpriv_path():
            return 0  # not root, or no setpriv: bwrap is started without it
        alone = [*CALLGRIND, "--dump-before=execve*", f"--callgrind-out-file={out}/cg.%p"]
        subprocess.run([*alone, *launch.argv], env=launch.env, cwd=launch.cwd, check=True)
        return sum(count for command, count in _totals(out) if command == "setpriv")


# --- the host's own instructions per run (a child interpreter under callgrind) ---------

_PIDFD = """
import _thread, os
def pidfd_open(pid, flags=0):  # valgrind 3.19 has no pidfd_open: a pipe a thread fills
    r, w = os.pipe()
    def wait():
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # the caller's wait4 still reaps
        os.write(w, b"x")
        os.close(w)
    _thread.start_new_thread(wait, ())
    return r
os.pidfd_open = pidfd_open
"""


def host_child(kind: str, runs: int) -> None:
    exec(_PIDFD, {})  # its own globals: the stand-in patches os for the whole process
    hello = [*_cold_path._minimal(sandbox.detect_sandbox().path), *_cold_path.HELLO]

    ended = subprocess.Popen(["/bin/true"])
    ended.wait() if kind != "pidfd" else os.waitid(os.P_PID, ended.pid, os.WEXITED | os.WNOWAIT)

    async def main() -> None:
        for _ in range(3 + runs):  # 3: the first runs' one-time work (support dir, caches)
            if kind == "anchor":
                _cold_path._spawn(hello)
            elif kind == "pidfd":  # the stand-in's own cost, taken out of the execute row
                fd = os.pidfd_open(ended.pid)
                os.read(fd, 1)
                os.close(fd)
            else:
                result = await execute("print('Hello World')", "python", time_limit_s=60)
                assert result.stdout == "Hello World\n", result

    asyncio.run(main())


def host_per_run(kind: str, runs: int) -> int:
    counts = []
    for n in (0, runs):
        with _scratch() as out:
            env = {**os.environ, "EXECUTOR_WARM_POOL": "0"}
            child = [sys.executable, __file__, "--host-child", kind, str(n)]
            subprocess.run(
                [*CALLGRIND, f"--callgrind-out-file={out}/cg.host", *child],
                env=env,
                check=True,
                capture_output=True,
            )
            counts.append(sum(count for _, count in _totals(out)))
    return (counts[1] - counts[0]) // runs


def functions(limit: int) -> list[tuple[int, int, int, str]]:
    """The sandbox's python3 against the anchor's, inclusive instructions of its named
    functions (the interpreter is stripped of its static ones), largest differences first."""
    found = []
    with _scratch() as theirs, _scratch() as mine:
        env = {**os.environ, "TMPDIR": theirs}
        argv = [*_cold_path._minimal(sandbox.detect_sandbox().path), "--bind", theirs, theirs]
        hello = [*_valgrind(theirs), *argv, *_cold_path.HELLO]
        subprocess.run(hello, env=env, check=True, capture_output=True)
        with _wrapped(mine, []):
            asyncio.run(execute("print('Hello World')", "python", time_limit_s=60))
        rows = [_inclusive(out) for out in (theirs, mine)]
    for name in set(rows[0]) | set(rows[1]):
        a, b = rows[0].get(name, 0), rows[1].get(name, 0)
        found.append((b - a, a, b, name))
    return sorted(found, key=lambda row: -abs(row[0]))[:limit]


def _inclusive(out: str) -> dict[str, int]:
    python = re.compile(r"^cmd: +\S*python3", re.M)
    path = next(p for p in Path(out).glob("cg.*") if python.search(p.read_text(errors="replace")))
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
    ).stdout
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+\S*?:(\w+)(?:'\d+)? ", line)
        if match and not match.group(2).startswith("0x"):
            name = match.group(2)
            rows[name] = max(rows.get(name, 0), int(match.group(1).replace(",", "")))
    return rows


def main(host_runs: int, limit: int) -> None:
    sandbox.detect_sandbox()
    asyncio.run(execute("print(1)", "python"))  # the support dir, the stub's .pyc, caches
    theirs = {**anchor(False), **{k: v for k, v in anchor(True).items() if k == "bwrap"}}
    mine = {**ours(False), **{k: v for k, v in ours(True).items() if k == "bwrap"}}
    mine["setpriv"] = setpriv()
    pidfd = host_per_run("pidfd", host_runs)
    theirs["host (this process, per run)"] = host_per_run("anchor", host_runs)
    mine["host (this process, per run)"] = host_per_run("execute", host_runs) - pidfd
    print(f"{'user-space instructions (M)':38} {'anchor':>8} {'cold run':>9} {'diff':>8}")
    names = ["bwrap", "setpriv", "sh", "python3", "host (this process, per run)"]
    for name in names:
        a, b = theirs.get(name, 0), mine.get(name, 0)
        print(f"{name:38} {a / 1e6:8.2f} {b / 1e6:9.2f} {(b - a) / 1e6:+8.2f}")
    total_a = sum(theirs.get(n, 0) for n in names)
    total_b = sum(mine.get(n, 0) for n in names)
    diff = (total_b - total_a) / 1e6
    print(f"{'total':38} {total_a / 1e6:8.2f} {total_b / 1e6:9.2f} {diff:+8.2f}")
    print(f"ratio {total_b / total_a:.2f}x (user space only; the kernel's work is not counted)")
    if limit:
        print("\npython3, inclusive, cold run vs anchor (named functions, largest differences)")
        for diff, a, b, name in functions(limit):
            print(f"  {diff / 1e6:+7.2f} M  {a / 1e6:7.2f} -> {b / 1e6:7.2f}  {name}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--host-child"]:
        host_child(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host-runs", type=int, default=10)
    parser.add_argument("--functions", type=int, default=12)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed (apt-get install valgrind)")
    main(args.host_runs, args.functions)
