"""Time and identifiers: one place that says how they look in the API and in D1."""

from __future__ import annotations

import base64
import secrets
import sys
import time
from datetime import UTC, datetime

# The clock durations are measured with (latencies, durationMs). On Workers (Pyodide)
# `perf_counter` does not advance between I/O; the wall clock, `Date.now()` underneath
# `time.time()`, is advanced by the runtime at every I/O, so a duration there is the I/O
# waited for (CPU time between I/O is not visible to a Worker). Elsewhere: perf_counter.
monotonic = time.time if sys.platform == "emscripten" else time.perf_counter


def elapsed_ms(started: float, digits: int = 2) -> float:
    """Milliseconds since `started` (a `monotonic()` reading)."""
    return round((monotonic() - started) * 1000, digits)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2026-02-13T12:00:00.000Z (sorts as text)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_id(prefix: str, nbytes: int = 10) -> str:
    """`prefix_` + lower-case base32 of random bytes (16 chars for 10 bytes)."""
    token = base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()
    return f"{prefix}_{token}"


class Clock:
    """The app's clock (`ctx.deps.clock`): UTC wall time and the duration clock. Tests
    pass a fake with the same two methods to `build_app(..., dependencies=...)`."""

    def now(self) -> datetime:
        return utc_now()

    def monotonic(self) -> float:
        return monotonic()


class Ids:
    """The app's id source (`ctx.deps.ids`): random ids in the API's format, and the hex
    tokens of the ids whose shape the seed fixes (`gen_<epoch-ms>_<8 hex>`)."""

    def new(self, prefix: str, nbytes: int = 10) -> str:
        return new_id(prefix, nbytes)

    def hex(self, nbytes: int) -> str:
        return secrets.token_hex(nbytes)
