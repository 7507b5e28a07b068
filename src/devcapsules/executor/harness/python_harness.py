"""Function-test harness for Python; runs inside the sandbox next to untrusted code.

`python3 python_harness.py tests.json`: load the user's module, call the function once per
input, and write one JSON line per test to fd 3: the return value serialised, or the error.
It never sees expected values and decides nothing: the host compares. User code shares
this process and could tamper with anything here, which is why nothing here is trusted.
User output is captured per test at the file-descriptor level (prints and os.write alike).

What it costs is paid on every run's clock: once per process at its start (cold), and in
a batch (batch_python.py) in every run's forked process, where each page of the parent
that a run touches is copied (CPython writes a reference count on every object it uses).
So it imports only C modules (`_json`, `_signal`; not json, signal or contextlib, whose
imports, re and enum among them, cost ~10 ms at a cold start) and formats tracebacks
with `traceback` loaded on the first error, or at preparation when prepared (`preload`).
"""

import _json
import _signal
import os
import sys
import time

RESULTS_FD = 3
OUTPUT_CAP = 16 * 1024  # per test and stream; more is cut, the host only shows it
# Bound before user code loads, so the casual `json.dumps = ...` (or `_json....`) does not
# reach us. A determined user can still tamper; the host trusts none of this
# (see tests_harness.py).
_make_encoder, _encode_ascii, _make_scanner = (
    _json.make_encoder,
    _json.encode_basestring_ascii,
    _json.make_scanner,
)
_write, _exit = os.write, os._exit


class TestTimeout(BaseException):
    """Raised by SIGALRM when one call overruns; BaseException so `except Exception` in
    user code does not swallow it."""


def unserialisable(value):
    # json.JSONEncoder.default's error, word for word.
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def to_json(value) -> str:
    """json.dumps(value) with its defaults (ASCII, NaN allowed, circular references
    refused) through the C encoder json.dumps itself ends in, so the same text; without
    json's Python layer (its import and the pages of it every run would touch). A new
    encoder per value: its circular-reference marks are left behind by an error."""
    encoder = _make_encoder({}, unserialisable, _encode_ascii, None, ": ", ", ", False, False, True)
    return "".join(encoder(value, 0))


CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": -float("inf")}


class DecoderDefaults:
    """What json.JSONDecoder hands its C scanner, with json.loads' defaults."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int, parse_constant = float, int, CONSTANTS.__getitem__


def from_json(text: str):
    """json.loads(text) for the host's tests.json, through json's C scanner."""
    text = text.strip(" \t\n\r")
    try:
        value, end = _make_scanner(DecoderDefaults)(text, 0)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    if end != len(text):
        raise ValueError("extra data after the JSON document")
    return value


def emit(record: dict) -> None:
    _write(RESULTS_FD, (to_json(record) + "\n").encode())


def unnamed_file() -> int:
    """A new unnamed file on the sandbox's private /tmp (a tmpfs; its environment is
    cleared, so /tmp is where tempfile would look too): a raw fd, as TemporaryFile makes
    it, without the file object around it or tempfile's imports (shutil, random, the
    compression modules: ~4 ms of every run's start, and more pages in every fork).
    The sandbox's /tmp is always bwrap's tmpfs, which has unnamed files (as batch_python's
    `private` relies on too)."""
    return os.open("/tmp", os.O_RDWR | os.O_TMPFILE | os.O_EXCL, 0o600)


def capture_files() -> tuple[list, list]:
    """(the files each test's fds 1 and 2 point at, what they are put back to after it).
    Made once per process and emptied after each test, not made per test. A batch run
    (handed its config by batch_python) has fds 1 and 2 of its own already, private
    unnamed files: those (checking that with fstat cost ~25 page copies); else two
    unnamed files. User code may seek or truncate them mid-test (or write through a dup
    of its own later): that only garbles the output shown for its own tests."""
    if "GIVEN_CONFIG" in globals():
        kept = [os.dup(1), os.dup(2)]
        for fd in kept:
            empty(fd)
        return kept, kept
    return [unnamed_file(), unnamed_file()], [os.dup(1), os.dup(2)]


def empty(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


def flush(streams) -> None:
    for stream in streams:
        try:  # noqa: SIM105 (contextlib: its import, and its pages in every run)
            stream.flush()
        except Exception:  # user code may have replaced or closed them
            pass


def run_captured(call, capture):
    """Run call() with fds 1 and 2 pointed at the capture files; (outcome, out, err)."""
    flush((sys.stdout, sys.stderr))
    files, restore = capture
    os.dup2(files[0], 1)
    os.dup2(files[1], 2)
    try:
        outcome = call()
    finally:
        flush((sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))
        os.dup2(restore[0], 1)
        os.dup2(restore[1], 2)
    texts = [os.pread(fd, OUTPUT_CAP, 0).decode("utf-8", "replace") for fd in files]
    for fd in files:
        empty(fd)
    return outcome, texts[0], texts[1]


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, TestTimeout):
        return "time limit exceeded"
    if isinstance(exc, MemoryError):
        return "memory limit exceeded (MemoryError)"
    try:
        traceback = formatter()
    except BaseException:  # user code broke importing it (sys.modules, a recursion limit)
        return f"{type(exc).__name__}: {exc}"[-2000:]
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-4:]).strip()[-2000:]


# traceback, for describe_error: bound before any user code runs if it is loaded already
# (`preload`; in a warm sandbox this file runs again as __main__ after it), else imported
# on a cold run's first error (~10 ms, with re and tokenize).
_traceback = sys.modules.get("traceback")


def formatter():
    global _traceback  # set once, on first need
    if _traceback is None:
        import traceback

        _traceback = traceback
    return _traceback


# `typing`, for the programs, loaded when prepared (`preload`): HumanEval-style problems
# start with `from typing import List`, which a prepared warm run loaded after its
# hand-over, on its clock. Measured (bench_preload.py --single, run_tests from a warm
# pool, medians, three runs alternating with the tree before, load 3.5-8): a typed
# problem's run 5.0-5.8 -> 3.1 ms wall, 5.0-5.6 -> 3.0-3.1 ms CPU, now what an untyped
# one costs (2.8-3.5 ms, unchanged); paid instead by the pool's refill, off the request
# path: a prepared start's CPU +1.5-2.4 ms (25.0-26.4 -> 27.1-27.9 ms). A batch's
# harness loads it itself (batch_python.py). Not on a cold run: its __main__ skips
# `preload`, and every cold run would pay it (~4-6 ms CPU), typed or not.


def preload() -> None:
    """What describe_error may load, loaded now: a harness prepared once for many runs
    (a batch's forked runs, a warm sandbox's run) then never imports on a run's clock.
    `ast`: traceback imports it to place the carets under every frame it formats (else
    ~2.5 ms and ~300 page copies in each failing run's process); this file's lines: its
    frames show in tracebacks (each failing run read them). And `typing`, for the
    programs (above)."""
    import ast  # noqa: F401
    import linecache
    import typing  # noqa: F401

    formatter()
    linecache.getlines(__file__)


def read_source(path: str) -> str:
    """The file's text as `open(path, encoding="utf-8").read()` gives it (newlines made
    "\n"), read raw: no text layer, codec lookup or buffer (~30 page copies a run)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def load(source_path: str, function_name):
    namespace = {"__name__": "solution", "__file__": source_path}
    code = compile(read_source(source_path), source_path, "exec")
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


def on_alarm(signum, frame):
    raise TestTimeout()


def call_with_timeout(func, args, timeout_s):
    # Set again for every call: user code may have replaced the handler. `_signal`, not
    # `signal`: the same calls without its enum conversions (and enum's import).
    _signal.signal(_signal.SIGALRM, on_alarm)
    _signal.setitimer(_signal.ITIMER_REAL, timeout_s)
    try:
        return func(*args)
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)


def run_one(func, index: int, args: list, timeout_s: float, capture) -> dict:
    started, failed = time.perf_counter(), None

    def call():
        nonlocal failed
        try:
            value = call_with_timeout(func, args, timeout_s)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are user errors too
            # Described off the test's clock (still captured): on a cold run the first
            # error loads traceback (~10 ms), which is not the test's time.
            failed = time.perf_counter()
            return None, describe_error(exc)
        try:
            return to_json(value), None
        except (TypeError, ValueError, RecursionError) as exc:
            return None, f"return value is not JSON-serialisable: {exc}"

    (actual_json, error), out, err = run_captured(call, capture)
    ended = failed if failed is not None else time.perf_counter()
    elapsed = int((ended - started) * 1000)
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
        return from_json(f.read().decode())


def main() -> None:
    config = read_config()
    capture = capture_files()

    def setup():
        try:
            return load(config["source"], config.get("function")), None
        except BaseException as exc:
            return None, describe_error(exc)

    (func, error), out, err = run_captured(setup, capture)
    emit({"setup": True, "error": error, "stdout": out, "stderr": err})
    if error is not None:
        return
    for index, args in enumerate(config["inputs"]):
        emit(run_one(func, index, args, config["timeout_s"], capture))


def finish() -> None:
    # Every record is on fd 3 already and output outside a test is not shown: skip the
    # interpreter's teardown of the modules loaded here (on the run's clock).
    flush((sys.stdout, sys.stderr))
    _exit(0)


if __name__ == "__main__":  # what the batch harness does too, on a copy loaded once
    main()  # from here, not from a function: no frame more under the user's code
    finish()
elif __name__ != "python_harness":  # prepared (batch_python.prepare, warm_python.prepare):
    preload()  # off every run's clock (imported by name, by batch_python for its JSON: not)
