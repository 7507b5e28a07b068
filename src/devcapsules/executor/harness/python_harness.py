"""Function-test harness for Python; runs inside the sandbox next to untrusted code.

`python3 python_harness.py tests.json`: load the user's module, call the function once per
input, and write one JSON line per test to fd 3: the return value serialised, or the error.
It never sees expected values and decides nothing: the host compares. User code shares
this process and could tamper with anything here, which is why nothing here is trusted.
User output is captured per test at the file-descriptor level (prints and os.write alike).
"""

import contextlib
import json
import os
import signal
import sys
import time
import traceback

RESULTS_FD = 3
OUTPUT_CAP = 16 * 1024  # per test and stream; more is cut, the host only shows it
# Bound before user code loads, so the casual `json.dumps = ...` does not reach us. A
# determined user can still tamper; the host trusts none of this (see tests_harness.py).
_dumps, _write, _exit = json.dumps, os.write, os._exit


class TestTimeout(BaseException):
    """Raised by SIGALRM when one call overruns; BaseException so `except Exception` in
    user code does not swallow it."""


def emit(record: dict) -> None:
    _write(RESULTS_FD, (_dumps(record) + "\n").encode())


def capture_file() -> int:
    """A new unnamed file on the sandbox's private /tmp (a tmpfs; its environment is
    cleared, so /tmp is where tempfile would look too): a raw fd, as TemporaryFile makes
    it, without the file object around it or tempfile's imports (shutil, random, the
    compression modules: ~4 ms of every run's start, and more pages in every fork).
    The sandbox's /tmp is always bwrap's tmpfs, which has unnamed files (as batch_python's
    `private` relies on too)."""
    return os.open("/tmp", os.O_RDWR | os.O_TMPFILE | os.O_EXCL, 0o600)


def run_captured(call):
    """Run call() with fds 1 and 2 pointed at private files; return (outcome, out, err)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # user code may have replaced them
            stream.flush()
    files = [capture_file(), capture_file()]
    saved = [os.dup(1), os.dup(2)]
    os.dup2(files[0], 1)
    os.dup2(files[1], 2)
    try:
        outcome = call()
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
    texts = [os.pread(fd, OUTPUT_CAP, 0).decode("utf-8", "replace") for fd in files]
    for fd in files:
        os.close(fd)
    return outcome, texts[0], texts[1]


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, TestTimeout):
        return "time limit exceeded"
    if isinstance(exc, MemoryError):
        return "memory limit exceeded (MemoryError)"
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-4:]).strip()[-2000:]


def load(source_path: str, function_name):
    namespace = {"__name__": "solution", "__file__": source_path}
    with open(source_path, encoding="utf-8") as f:
        code = compile(f.read(), source_path, "exec")
    exec(code, namespace)
    if function_name is not None:
        func = namespace.get(function_name)
        if not callable(func):
            raise LookupError(f"function {function_name!r} is not defined")
        return func
    defined = [
        v
        for k, v in namespace.items()
        if callable(v) and not k.startswith("_") and getattr(v, "__module__", None) == "solution"
    ]
    if len(defined) != 1:
        raise LookupError(
            "functionName is required: the code does not define exactly one public function"
        )
    return defined[0]


def call_with_timeout(func, args, timeout_s):
    def on_alarm(signum, frame):
        raise TestTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return func(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run_one(func, index: int, args: list, timeout_s: float) -> dict:
    started = time.perf_counter()

    def call():
        try:
            value = call_with_timeout(func, args, timeout_s)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are user errors too
            return None, describe_error(exc)
        try:
            return _dumps(value, allow_nan=True), None
        except (TypeError, ValueError, RecursionError) as exc:
            return None, f"return value is not JSON-serialisable: {exc}"

    (actual_json, error), out, err = run_captured(call)
    elapsed = int((time.perf_counter() - started) * 1000)
    return {
        "index": index,
        "actual_json": actual_json,
        "error": error,
        "stdout": out,
        "stderr": err,
        "time_ms": elapsed,
    }


def read_config() -> dict:
    # The batch harness hands a run its config in memory (batch_python.py's `config`);
    # a run of its own reads its tests.json.
    if "GIVEN_CONFIG" in globals():
        return globals()["GIVEN_CONFIG"]
    with open(sys.argv[1], "rb") as f:  # bytes: no text layer for one read (UTF-8 JSON)
        return json.loads(f.read())


def main() -> None:
    config = read_config()

    def setup():
        try:
            return load(config["source"], config.get("function")), None
        except BaseException as exc:
            return None, describe_error(exc)

    (func, error), out, err = run_captured(setup)
    emit({"setup": True, "error": error, "stdout": out, "stderr": err})
    if error is not None:
        return
    for index, args in enumerate(config["inputs"]):
        emit(run_one(func, index, args, config["timeout_s"]))


def finish() -> None:
    # Every record is on fd 3 already and output outside a test is not shown: skip the
    # interpreter's teardown of the ~30 modules loaded here (on the run's clock).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _exit(0)


if __name__ == "__main__":  # what the batch harness does too, on a copy loaded once
    main()  # from here, not from a function: no frame more under the user's code
    finish()
