"""A pre-started Python for one warm run: the interpreter is up before the program exists.

The warm launcher execs `python3 warm_python.py` with the run's socket on fd 3; this waits
for the run (marshalled argv and rlimits, plus the stdin descriptor), applies the limits, closes
every descriptor but 0-2 and then runs /box/<script> as `python3 <script>` would: a fresh
`__main__`, sys.argv and sys.path[0] set the same way, and tracebacks without this frame.
It runs exactly one program and exits with it.
"""

import _socket
import marshal
import os
import resource
import sys

# `_socket`, not `socket` (which pulls in enum and friends), and marshal, not json: every
# module imported here is also torn down at the program's exit, on the clock (loading
# json, socket and resource doubled interpreter finalization, 2.3 -> 4.7 ms).


def receive() -> dict:
    sock = _socket.socket(fileno=3)
    message, ancillary, _flags, _addr = sock.recvmsg(1 << 20, _socket.CMSG_SPACE(4))
    fds = [
        int.from_bytes(data[:4], sys.byteorder)
        for level, kind, data in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
    ]
    if not message or not fds:
        os._exit(0)  # drained before any run
    sock.close()
    os.dup2(fds[0], 0)
    os.closerange(3, 1 << 16)
    return marshal.loads(message)  # written by the host (warm.py), not by anything inside


def apply_limits(limits: dict) -> None:
    pairs = [
        (resource.RLIMIT_CPU, limits.get("cpu"), 1),
        (resource.RLIMIT_AS, limits.get("as"), 0),
        (resource.RLIMIT_NPROC, limits.get("nproc"), 0),
        (resource.RLIMIT_FSIZE, limits.get("fsize"), 0),
        (resource.RLIMIT_NOFILE, limits.get("nofile"), 0),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, value, slack in pairs:
        if value is not None:
            resource.setrlimit(which, (int(value), int(value) + slack))


def run_script(argv: list) -> None:
    path = os.path.join(os.getcwd(), argv[1])
    sys.argv = list(argv[1:])
    sys.path[0] = os.path.dirname(path)
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc.with_traceback(None), None)  # as python3 prints it
        sys.exit(1)
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        exc = exc.with_traceback(exc.__traceback__.tb_next)  # the user's frames only
        sys.excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)


if __name__ == "__main__":
    run = receive()
    apply_limits(run["limits"])
    del receive, apply_limits
    run_script(run["argv"])
