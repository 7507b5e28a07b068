"""The Python that runs one program in-process: pre-started for a warm run, or, for a
cold one, started with the run on its command line (the launcher-less cold path).

Cold (`python3 warm_python.py --run HEX`, HEX: the host's marshal of argv, rlimits and the
stdin, stdout, cgroup and results descriptors), exec'd by the `sh` that already joined the
run's memory (and CPU) cgroups (sandbox.py): it joins the others (failing closed), puts
the run's stdin and stdout on fds 0 and 1 and the harness results pipe on fd 3, closes
every other descriptor, enters its own process group and runs the script like a warm run
(the rlimits were set by that sh; any it cannot express come in HEX and are set here).
Nothing here reports anything: the host takes the exit status from bwrap and memory and
CPU from the cgroup, outside anything this process (or the program it becomes) can reach.

Warm, lean (`python3 warm_python.pyc --warm HEX`, HEX: the host's marshal of the cgroup
descriptors sh did not join, the host's socket and the support script to prepare), exec'd
by the `sh` that joined the counting cgroups, as for a cold run: it joins the others
(failing closed), enters its own process group, puts the socket on fd 3 and closes
every other descriptor but 0-2, which the run's own replace at hand-over. As cold,
nothing here reports: bwrap's status pipe and the cgroup do, outside.

Warm, under the launcher (hosts whose run cgroup does not count CPU): the warm launcher
execs `python3 warm_python.py` with the host's socket on fd 3.

Either way this waits for the run (marshalled argv and rlimits, plus the run's stdin,
stdout and stderr descriptors, which replace its own, and, for the function-test
harness, its results pipe, which becomes fd 3), applies the limits, closes every other
descriptor and then runs the script as `python3 [-I] <script>` would: a fresh
`__main__`, sys.argv and sys.path[0] set the same way, and tracebacks without this frame.
It runs exactly one program and exits with it.

Given a support script (a sandbox taken for a function-test or batch run: in HEX, or as
`python3 warm_python.py <support script>`), it also prepares that script while
waiting: it compiles our own read-only harness and runs its top level once under
another `__name__` (its imports, its definitions; never its main), so the run pays only
the program. Nothing of the run
exists yet: what is loaded is our harness and the stdlib it imports, from the sandbox's
read-only mounts. MODULES_AT_HAND_OVER records what was loaded when the run came (the
tests check that a prepared run imports nothing after it).

Cold or warm, the program's end is `leave`: what the interpreter's exit does that the
program can see (threads joined, atexit, its globals' finalizers, cycles collected, std
streams flushed, the exit status), then `os._exit` instead of the runtime's teardown of
every module, which nothing of a single-use process needs (tests/executor/test_program_exit.py
compares each with the same program under a bare `python3`).
"""

import _imp
import _warnings
import marshal
import os
import sys

# `_socket`, not `socket` (which pulls in enum and friends), and marshal, not json: every
# module imported here is also torn down at the program's exit, on the clock (loading
# json, socket and resource doubled interpreter finalization, 2.3 -> 4.7 ms). `_socket`
# only when warm: a cold run has no socket to read.


PREPARED: dict = {}  # support script path -> its compiled code
READY = b"r"  # sent on the host's socket once waiting for the run: all set up


class _Compiled(BaseException):
    """Carries the code object `compile_source` stopped before it ran."""


def _stop(frame, event, _arg) -> None:
    # The exec'd source's own frame, before its first instruction: called from
    # compile_source, named as exec() names it. Not a frame of what compiling it ran
    # (a coding cookie's codec is imported then: its frames also follow compile_source's).
    code = frame.f_code
    caller = frame.f_back
    if (
        event == "call"
        and code.co_filename == "<string>"
        and code.co_name == "<module>"
        and caller is not None
        and caller.f_code is compile_source.__code__
    ):
        raise _Compiled(code)


_STRICT = ("error", None, Warning, None, 0)  # any warning while compiling: take compile()'s


def compile_source(source: bytes, path: str):
    """What `compile(source, path, "exec")` returns, without the builtin's first-call cost:
    compile() first checks whether its argument is an AST object, and that check builds
    the interpreter's AST node classes, over a hundred (7 M instructions, a fifth of a
    hello world's interpreter; `python3 main.py` never builds them). exec() of the same
    bytes compiles with the same flags and no such check: a profile hook stops its module
    frame before the first instruction and hands the code out, which then gets the file's
    name (`_imp._fix_co_filename`, as importlib renames a moved .pyc's code). A source
    that fails or warns is compiled again by compile() itself, so its error or warning
    reads exactly as before."""
    _warnings.filters.insert(0, _STRICT)
    sys.setprofile(_stop)
    try:
        exec(source, {})
    except _Compiled as stopped:
        code = stopped.args[0]
    except BaseException:
        code = None
    finally:
        sys.setprofile(None)
        _warnings.filters.remove(_STRICT)
    if code is None:
        return compile(source, path, "exec")
    _imp._fix_co_filename(code, path)
    return code


def prepare(script: str) -> None:
    with open(script, "rb") as f:
        code = compile_source(f.read(), script)
    exec(code, {"__name__": "__warm_prepare__", "__file__": script, "__builtins__": __builtins__})
    PREPARED[script] = code


def receive() -> dict:
    sock = _socket.socket(fileno=3)
    # Ready: the host hands a run to a ready sandbox first (warm.py). Refused when the
    # run came before (the host's end is closed then; the run waits in the socket).
    try:  # noqa: SIM105 (contextlib would be one more module in every run)
        sock.send(READY, _socket.MSG_NOSIGNAL)
    except OSError:
        pass
    message, ancillary, _flags, _addr = sock.recvmsg(1 << 20, _socket.CMSG_SPACE(16))
    fds = [
        int.from_bytes(data[i : i + 4], sys.byteorder)
        for level, kind, data in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
        for i in range(0, len(data) - 3, 4)
    ]
    if not message or not fds:
        os._exit(0)  # drained before any run
    sock.close()
    for target, fd in enumerate(fds):  # stdin, stdout, stderr [, a harness's results]
        os.dup2(fd, target)
    os.closerange(len(fds), 1 << 16)
    return marshal.loads(message)  # written by the host (warm.py), not by anything inside


def apply_limits(limits: list) -> None:
    """(resource, soft, hard) triples, worked out by the host (`SandboxLimits.rlimits`).
    Imported here: a cold run's rlimits are set by its sh (sandbox.py), which spares
    it the extension module's load."""
    import resource

    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def run_script(argv: list) -> None:
    """`python3 [-I] script args...` as the interpreter would: -I (the test harness)
    puts no script directory on sys.path; without it the script's directory is first."""
    args = list(argv[1:])
    isolated = args[0] == "-I"
    if isolated:
        del args[0]
    path = os.path.join(os.getcwd(), args[0])
    sys.argv = args
    if isolated:
        del sys.path[0]  # this stub's own directory
    else:
        sys.path[0] = os.path.dirname(path)
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    try:
        code = PREPARED.pop(path, None)
        if code is None:
            with open(path, "rb") as f:
                code = compile_source(f.read(), path)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc.with_traceback(None), None)  # as python3 prints it
        sys.exit(1)
    # This stub's frames sit under the program's, which a cold `python3 script` does not
    # have: give the recursion limit exactly that many back, so a program gets as deep as
    # it would cold (a 990-deep return value still serialises in the harness).
    depth, frame = 1, sys._getframe()  # 1: the exec() call itself counts as one level
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(sys.getrecursionlimit() + depth)
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        exc = exc.with_traceback(exc.__traceback__.tb_next)  # the user's frames only
        sys.excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)


def exit_status(exc: SystemExit) -> int:
    """The status `python3 script` exits with for this SystemExit (the message of a
    non-integer code goes to stderr, as the interpreter prints it)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def leave(status: int) -> None:
    """End the process as the interpreter's exit would as far as the program can tell,
    then `os._exit`: its non-daemon threads joined, its atexit handlers run, its globals
    released the way module teardown clears them (their finalizers run), its unreachable
    cycles collected (only the program's: `freeze`), stdout and stderr flushed (status
    120 if stdout cannot be, as CPython). What is skipped is the runtime's own teardown
    of every module and of the interpreter, ~2 ms on each run's clock that a single-use
    process need not spend (Python does not promise `__del__` for objects still alive at
    exit either)."""
    import atexit
    import gc

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    main = sys.modules.get("__main__")
    if main is not None:
        clear_module(main.__dict__)
    gc.collect()
    stdout_flushed = flush(sys.stdout)
    for stream in (sys.stderr, sys.__stdout__, sys.__stderr__):
        flush(stream)
    os._exit(status if stdout_flushed else 120)


def clear_module(names: dict) -> None:
    # As the interpreter clears a module at exit: names with one leading underscore
    # first, then every other but `__builtins__` (a finalizer may still use builtins).
    for name in [n for n in names if n[:1] == "_" and n[1:2] != "_"]:
        names[name] = None
    for name in [n for n in names if n != "__builtins__"]:
        names[name] = None


def flush(stream) -> bool:
    """Flush a std stream unless gone or closed, as the interpreter's exit does; a
    failure is reported on fd 2 as it reports it."""
    try:
        if stream is not None and not stream.closed:
            stream.flush()
    except Exception as exc:
        os.write(2, f"Exception ignored in: {stream!r}\n{type(exc).__name__}: {exc}\n".encode())
        return False
    return True


def freeze() -> None:
    """Everything alive now is the interpreter's and ours, none of it the program's:
    moved out of the collector's sight (`gc.freeze`), the collection `leave` makes (and
    those the program triggers) look only at what the program made (~0.5 ms less)."""
    import gc

    gc.freeze()


def run_and_leave(argv: list) -> None:
    try:
        run_script(argv)
    except SystemExit as exc:
        leave(exit_status(exc))
    leave(0)


def reopen_stdout() -> None:
    """sys.stdout as the interpreter would have made it on this fd 1 (a pipe): the one it
    made at start-up wraps what fd 1 was then (a cgroup file), so it would say seekable."""
    old = sys.stdout
    new = open(1, "w", encoding=old.encoding, errors=old.errors, newline="\n", closefd=False)  # noqa: SIM115 (lives as sys.stdout)
    new.buffer.raw.name = "<stdout>"
    sys.stdout = sys.__stdout__ = new


def join(cgroup_fds: list) -> None:
    """Into the run's cgroups that sh did not join (the kernel checks that root opened
    them); fails closed: a run that cannot be counted does not start."""
    try:
        for fd in cgroup_fds:
            os.write(fd, b"0")
    except OSError as exc:
        os.write(2, f"sandbox: cannot join the run cgroup: {exc}\n".encode())
        os._exit(125)


def cold() -> None:
    run = marshal.loads(bytes.fromhex(sys.argv[2]))  # written by the host (sandbox.py)
    join(run["cgroup_fds"])  # before anything else
    os.dup2(run["stdin_fd"], 0)  # fd 0 (and on v1 fd 1) were the cgroups sh joined
    if run["stdout_fd"] is not None:
        os.dup2(run["stdout_fd"], 1)
        reopen_stdout()
    os.setpgid(0, 0)  # as a launched program: one group per run
    results_fd = run["results_fd"]
    if results_fd is not None:
        os.dup2(results_fd, 3)
    os.closerange(4 if results_fd is not None else 3, 1 << 16)  # cgroup fds included
    if run["limits"]:
        apply_limits(run["limits"])
    freeze()
    run_and_leave(run["argv"])


def settle_lean() -> str | None:
    """A lean warm start (`--warm HEX`, exec'd by the sh that joined the counting
    cgroups): the other cgroups joined, its own process group, the host's socket on fd 3,
    every other descriptor closed but 0-2 (the cgroup files sh joined, bwrap's stderr:
    the run's own replace them at hand-over). Returns the support script to prepare."""
    start = marshal.loads(bytes.fromhex(sys.argv[2]))  # written by the host (warm.py)
    join(start["cgroup_fds"])
    os.setpgid(0, 0)  # as a launched program: one group per run
    os.dup2(start["control_fd"], 3)
    os.closerange(4, 1 << 16)
    return start["prepare"]


def warm(prepared: str | None, lean: bool) -> None:
    """Wait for the one run (set up first, `prepared` loaded), then run it. `lean`: fd 1
    was a cgroup file (or /dev/null) when this interpreter made sys.stdout."""
    global MODULES_AT_HAND_OVER
    if prepared:
        prepare(prepared)
    freeze()
    MODULES_AT_HAND_OVER = frozenset(sys.modules)  # just before the run can arrive
    run = receive()
    if lean:
        reopen_stdout()
    apply_limits(run["limits"])
    run_and_leave(run["argv"])


if __name__ == "__main__" and sys.argv[1:2] == ["--run"]:
    cold()
elif __name__ == "__main__":
    import _socket
    import resource  # noqa: F401 (apply_limits' own import: loaded before the hand-over)

    if sys.argv[1:2] == ["--warm"]:
        warm(settle_lean(), lean=True)
    else:  # under the warm launcher, which put the socket on fd 3
        warm(sys.argv[1] if len(sys.argv) > 1 else None, lean=False)
