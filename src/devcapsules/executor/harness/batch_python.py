"""Batch harness: many small independent Python programs in one sandbox, one process each.

`python3 batch_python.py batch.json`: for each program (files p0.py, p1.py, ... in the
work directory), fork a child that runs it as `__main__` (fresh globals, sys.argv set),
with its stdout/stderr in private unnamed files, in its own process group, under the launcher's
rlimits (a forked child starts with its own CPU-time count) and a per-program deadline.
After each program every other process in the sandbox but this harness and its
ancestors is SIGKILLed, /tmp emptied, /dev put back as it was and the System V IPC
objects removed, so a program cannot leave anything for the next one. One JSON line per
program on fd 3; the host classifies, trusting nothing here.

A program is `p<i>.py` by default; batch.json's optional `programs` list says otherwise
per program: `path` and `argv` (a support harness such as python_harness.py, loaded once
here and its `__main__` block, `main()` then `finish()`, run in the child on its own
config), `timeout_s` and `cpu_s` (its own deadline and CPU limit),
`channel` (a private file becomes its fd 3; its content travels in its record, so a
function-test harness reports as in a run of its own), and `config` (the support
harness's own config, its tests.json, handed to it in memory as GIVEN_CONFIG: the host
writes one file for all the runs' specs instead of one more per run).

Why one sandbox for many programs: the sandbox's start (namespaces, mounts, two
interpreters) costs ~50 ms of CPU, a forked program ~2 ms; a batch is one principal's
work (a creator's publish check, a grading job, generation candidates), so the boundary
that matters, between principals and the host, is the sandbox's, unchanged.
"""

import ctypes  # at the top: a warm sandbox prepared for batches has it loaded before its run
import os
import re  # noqa: F401 (preloaded for the programs: see below)
import resource  # the children's CPU limit: loaded once here, not in every fork
import select
import stat
import sys
import time
import typing  # noqa: F401 (preloaded for the programs: see below)

# What this harness loads, every child has for free (its pages shared until written);
# what it does not, a child that imports it loads on its own clock, once per program.
# So, on purpose, for the programs: `collections` and `re` (with enum, functools,
# itertools, ...: Counter, deque, regular expressions, each ~2-5 ms to load here, more
# than a whole run), and `typing` (with contextlib, warnings): HumanEval-style problems
# start with `from typing import List`, and each child that loaded it paid ~4-5 ms of CPU
# for it, twice a whole untyped run, against ~3-4 ms once in the batch's start (measured,
# bench_preload.py: one typed problem in a batch pays for it; one without any loses it).
# For the harness itself only what it needs, not what a module brings: the json
# package's C core without the package (python_harness's to_json/from_json), the
# interpreter's own traceback printer instead of `traceback` (linecache, tokenize,
# textwrap), no signal (nor contextlib of its own: its few try/excepts stay plain).
# (The harness imported by name loads only C modules: one way to read and write JSON.)
from collections import namedtuple  # and collections itself, for the programs (above)

from python_harness import from_json, to_json

SIGKILL = 9  # Linux's number: os.kill takes it, no signal module needed


RESULTS_FD = 3


def run_child(path: str, out: int, err: int, argv: list, chan, cpu_s, config) -> None:
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
    support = SUPPORT.get(path)
    if support is not None and config is not None:  # given here instead of read
        support["GIVEN_CONFIG"] = config
    code = 0
    try:
        if support is not None:  # its `__main__` block, on this process's copy of it
            support["main"]()
            support["finish"]()
        else:
            main = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
            exec(load(path), main)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # the program's frames only, not this harness's
        print_traceback(exc.with_traceback(exc.__traceback__.tb_next))
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (contextlib: see the imports)
            stream.flush()
        except Exception:
            pass
    os._exit(code)


_print_exception = sys.__excepthook__  # bound here: a program may replace sys's


def print_traceback(exc: BaseException) -> None:
    """On sys.stderr, as `traceback.print_exception` prints it (chained exceptions, notes,
    carets and all): the interpreter's own printer, which needs no module loaded."""
    _print_exception(type(exc), exc, exc.__traceback__)


# Support scripts (absolute paths on the read-only support mount, never a program's own
# file: the function-test harness) are loaded once, here, before the first fork: their
# top level (imports, definitions) runs under another name, and each run's process calls
# `main()` and `finish()`, what their `if __name__ == "__main__"` block does, on its own
# copy of the module. Run again in every process, the module's code cost ~60 us and ~17
# page faults more per run (its definitions made, and every page they land on copied).
SUPPORT: dict = {}  # path -> the loaded module's namespace


def prepare(path: str) -> dict:
    namespace = {"__name__": "__batch_support__", "__file__": path, "__builtins__": __builtins__}
    exec(load(path), namespace)
    return namespace


def load(path: str):
    with open(path, "rb") as f:
        return compile(f.read(), path, "exec")


def wait(pid: int, timeout_s: float) -> tuple[int, object, bool]:
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], timeout_s)
    os.close(pidfd)
    if not ready:
        os.killpg(pid, SIGKILL)
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
            try:  # noqa: SIM105 (contextlib: see the imports)
                os.kill(pid, SIGKILL)
            except OSError:
                pass
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


# Besides processes, what a program can leave for the next one: files on the sandbox's
# writable file systems (/tmp, and /dev: bwrap's tmpfs, owned by the sandbox uid), their
# modes, and the System V IPC objects of the IPC namespace every program here shares.
# After each program all of it is put back as it was before the first one.
IPC_TABLES = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}  # /proc/sysvipc/<name>
IPC_RMID = 0


# inode: a replaced entry is a new inode (tmpfs does not reuse their numbers); link: a
# symlink's target, else None; mount: a bind (/dev/null, ...) or devpts, which cannot be
# removed or replaced. (A namedtuple: dataclasses would load inspect and ~20 modules.)
Entry = namedtuple("Entry", "inode mode link mount")


def snapshot(top: str) -> tuple[int, dict]:
    """`top`'s own mode and its entries."""
    entries = {}
    for entry in os.scandir(top):
        link = os.readlink(entry.path) if entry.is_symlink() else None
        mode = entry.stat(follow_symlinks=False).st_mode
        entries[entry.name] = Entry(entry.inode(), mode, link, os.path.ismount(entry.path))
    return os.lstat(top).st_mode, entries


def unchanged(top: str, before: tuple[int, dict]) -> bool:
    """The cheap check after each program (a scandir and a stat or two): the same entries
    (names and inodes), the same modes, and its directories (/dev/shm) still empty."""
    mode, entries = before
    if os.lstat(top).st_mode != mode:
        return False
    if {entry.name: entry.inode() for entry in os.scandir(top)} != INODES[top]:
        return False
    for name, kept in entries.items():
        if stat.S_ISDIR(kept.mode) and not kept.mount:
            path = os.path.join(top, name)
            if os.lstat(path).st_mode != kept.mode or os.listdir(path):
                return False
    return True


INODES: dict = {}  # per snapshot top: its entries' inodes, for `unchanged`


def restore(top: str, before: tuple[int, dict]) -> None:
    """Put `top` back as `snapshot` saw it: entries added removed (however deep), links
    changed or removed made again, directories emptied; mount points are left alone."""
    mode, entries = before
    os.chmod(top, mode & 0o7777)
    for entry in os.scandir(top):
        kept = entries.get(entry.name)
        if kept is None or (not kept.mount and entry.inode() != kept.inode):
            remove(entry.path)
    for name, kept in entries.items():
        path = os.path.join(top, name)
        if kept.mount:
            continue
        if kept.link is not None and not os.path.lexists(path):
            os.symlink(kept.link, path)
        elif stat.S_ISDIR(kept.mode):
            if not os.path.lexists(path):
                os.mkdir(path)
            restore(path, (kept.mode, {}))


def remove(path: str) -> None:
    """Remove a file or a whole tree however a program left it: a directory that its
    owner (our uid) made unreadable or read-only, which stops shutil.rmtree, is made
    ours again first; iterative, so depth cannot exhaust the recursion limit."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    stack = [path]
    while stack:
        top = stack[-1]
        os.chmod(top, 0o700)
        subdirs = []
        for entry in os.scandir(top):
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.path)
            else:
                os.unlink(entry.path)
        if subdirs:
            stack.extend(subdirs)
        else:
            os.rmdir(stack.pop())


def remove_ipc(libc) -> None:
    """Remove every System V shared memory segment, message queue and semaphore set of
    this IPC namespace (each table lists its objects after a header line; read raw:
    this runs after every program, and an empty table is the usual answer)."""
    for table, control in IPC_TABLES.items():
        fd, chunks = os.open(f"/proc/sysvipc/{table}", os.O_RDONLY), []
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        for line in b"".join(chunks).splitlines()[1:]:
            ident = int(line.split()[1])
            args = (ident, 0, IPC_RMID) if table == "sem" else (ident, IPC_RMID, None)
            if getattr(libc, control)(*args) != 0:
                raise OSError(f"{control}({ident}) failed")


def reset(dev: tuple[int, dict], tmp_mode: int, libc) -> None:
    """Everything a program could leave, put back; a failure ends the batch (exit 70)."""
    try:
        restore("/tmp", (tmp_mode, {}))
        if not unchanged("/dev", dev):
            restore("/dev", dev)
            INODES["/dev"] = {entry.name: entry.inode() for entry in os.scandir("/dev")}
        remove_ipc(libc)
    except OSError:
        os._exit(LEFTOVERS_SURVIVED)  # never run the next program beside a leftover


def read_capped(fd: int, cap: int) -> tuple[str, bool]:
    """A program's stream from the start of its private file (then closed)."""
    data = os.pread(fd, cap + 1, 0)
    os.close(fd)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def make_undumpable():
    # A program could otherwise open /proc/<harness>/fd/3 (same uid) and write the
    # records of the programs after it; undumpable, that is root-only, ptrace refused.
    # The C library is kept: `reset` removes IPC objects through it.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)
    return libc


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
        "config": entry.get("config"),
    }


def private() -> int:
    """An unnamed file on /tmp for one stream of one program, read back through this fd:
    a program can neither find it by name nor remove or replace it, nor make it
    unreadable by closing /tmp to us (with named files, any of that stopped the batch)."""
    return os.open("/tmp", os.O_RDWR | os.O_TMPFILE | os.O_EXCL, 0o600)


def main() -> None:
    libc = make_undumpable()
    dev, tmp_mode = snapshot("/dev"), os.lstat("/tmp").st_mode
    INODES["/dev"] = {name: entry.inode for name, entry in dev[1].items()}
    with open(sys.argv[1], "rb") as f:
        batch = from_json(f.read().decode())
    cap, channel_cap = batch["max_output"], batch.get("max_channel", 0)
    for index in range(batch["count"]):
        entry = program(batch, index)
        if os.path.isabs(entry["path"]) and entry["path"] not in SUPPORT:
            SUPPORT[entry["path"]] = prepare(entry["path"])
        out, err = private(), private()
        chan = private() if entry["channel"] else None
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            run_child(entry["path"], out, err, entry["argv"], chan, entry["cpu_s"], entry["config"])
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
        record["stdout"], record["stdout_truncated"] = read_capped(out, cap)
        record["stderr"], record["stderr_truncated"] = read_capped(err, cap)
        if chan is not None:
            record["results"], record["results_truncated"] = read_capped(chan, channel_cap)
        reset(dev, tmp_mode, libc)
        os.write(RESULTS_FD, (to_json(record) + "\n").encode())


if __name__ == "__main__":
    main()
elif __name__ == "__warm_prepare__":  # a warm sandbox prepared for batches (warm_python)
    # The batches the API runs are test batches (publish checks, generation verification):
    # what their function-test harness preloads (traceback, ast, its own lines: ~5.7 ms)
    # is loaded now, before the hand-over, not in each batch's start on its clock.
    import python_harness

    python_harness.preload()
