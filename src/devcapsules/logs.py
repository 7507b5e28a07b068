"""Structured JSON logs: one object per line, the seed's shape.

`{"level": "info", "action": "generation_complete", ..., "timestamp": "...Z"}`.
On the edge `print` goes to the console that `wrangler tail` shows; locally to stdout.

Logging never fails a request: a line that cannot be written (stdout on a closed pipe,
a full disk, a closed file) is counted and dropped. The first failure of a run of them
is reported once on stderr, and the next line that does get through is preceded by a
`log_lines_dropped` line saying how many were lost and why. A request whose capsule
or job was written must get its answer even when nobody can read our logs.

Every line written while a request is served carries its `requestId`, whichever logger
writes it: the request-log layer sets it in a context variable (`request_scope`), so
dependencies built once per app (the executor's backends, the model provider) that log
with the app's logger are still correlated with the request that called them. asyncio
copies the variable into tasks started from the request (`wait_until` work), on CPython
and in Pyodide alike.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import sys
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}

# The fields of the request being served (its id); empty outside a request.
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_REQUEST_FIELDS: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "request_fields", default=_NO_FIELDS
)


@contextlib.contextmanager
def request_scope(**fields: Any):
    """Lines written inside carry these fields (a logger's own fields win)."""
    token = enter_request_scope(fields)
    try:
        yield
    finally:
        leave_request_scope(token)


# `request_scope` in two calls, for the request-log layer, which runs on every request
# (a generator-based context manager costs it a few µs more).
def enter_request_scope(fields: Mapping[str, Any]) -> contextvars.Token:
    return _REQUEST_FIELDS.set(fields)


def leave_request_scope(token: contextvars.Token) -> None:
    _REQUEST_FIELDS.reset(token)


def _stdout_sink(line: str) -> None:
    # One write of the whole line, then the flush (print writes the newline apart).
    # `sys.stdout` is looked up per line: a redirected stdout is followed.
    stdout = sys.stdout
    stdout.write(line + "\n")
    stdout.flush()


def _stderr_report(message: str) -> None:
    # If stderr is gone too, there is nowhere left to tell.
    with contextlib.suppress(Exception):
        print(message, file=sys.stderr, flush=True)


class GuardedSink:
    """A sink that cannot raise: failed writes are counted, reported once, then told
    in the next line that gets through."""

    def __init__(
        self, write: Callable[[str], None], report: Callable[[str], None] = _stderr_report
    ):
        self.write = write
        self.report = report
        self.dropped = 0  # lines lost since the last line that got through
        self.dropped_total = 0
        self.last_error = ""

    def __call__(self, line: str) -> None:
        try:
            if self.dropped:
                self.write(self._dropped_notice())
                self.dropped = 0
            self.write(line)
        except Exception as exc:
            self._count(exc)

    def _count(self, exc: Exception) -> None:
        self.dropped += 1
        self.dropped_total += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.dropped == 1:
            self.report(f"devcapsules: log sink failing, dropping log lines ({self.last_error})")

    def _dropped_notice(self) -> str:
        record = {
            "level": "warn",
            "action": "log_lines_dropped",
            "dropped": self.dropped,
            "error": self.last_error,
            "timestamp": utc_timestamp(),
        }
        return json.dumps(record)


# Every log line and /health carry a timestamp: the formatted second is reused until it
# changes (strftime is most of the cost), only the milliseconds are formatted each time;
# `time.time()` is read directly (a `datetime` per line is most of the rest).
_formatted_second: tuple[int, str] = (-1, "")


def utc_timestamp() -> str:
    global _formatted_second
    now = time.time()
    second = int(now)
    if second != _formatted_second[0]:
        _formatted_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_formatted_second[1]}.{int((now - second) * 1000):03d}Z"


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """`json.JSONEncoder(default=str, ensure_ascii=False).encode`, the same text, for one
    line per request at least: `encode` builds its C encoder again on every call (about
    a third of its cost for an access line), so it is built once here. It keeps no
    circular-reference markers: a record that refers to itself ends in RecursionError
    instead of ValueError, and either becomes the `logError` line."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain encoder, the same text
        return json.JSONEncoder(default=str, ensure_ascii=False).encode
    encode = make(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda record: "".join(encode(record, 0))


_encode_line = _line_encoder()


class Logger:
    """A logger bound to fixed fields (such as `requestId`); `bind` adds more."""

    def __init__(
        self,
        level: str = "info",
        sink: Callable[[str], None] = _stdout_sink,
        fields: dict[str, Any] | None = None,
    ):
        self.threshold = LEVELS.get(level, 20)
        self.sink = sink if isinstance(sink, GuardedSink) else GuardedSink(sink)
        self.fields = fields or {}

    def bind(self, **fields: Any) -> Logger:
        # Per request (request id, principal): copy the resolved threshold and sink.
        bound = Logger.__new__(Logger)
        bound.threshold, bound.sink = self.threshold, self.sink
        bound.fields = {**self.fields, **fields}
        return bound

    def log(self, level: str, action: str, **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        request = _REQUEST_FIELDS.get()
        record = {"level": level, "action": action, **request, **self.fields, **fields}
        record["timestamp"] = utc_timestamp()
        try:
            line = _encode_line(record)
        except Exception as exc:
            line = json.dumps({"level": level, "action": action, "logError": repr(exc)[:300]})
        self.sink(line)

    def debug(self, action: str, **fields: Any) -> None:
        self.log("debug", action, **fields)

    def info(self, action: str, **fields: Any) -> None:
        self.log("info", action, **fields)

    def warn(self, action: str, **fields: Any) -> None:
        self.log("warn", action, **fields)

    def error(self, action: str, **fields: Any) -> None:
        self.log("error", action, **fields)
