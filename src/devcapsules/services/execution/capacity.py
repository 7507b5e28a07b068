"""A bound on concurrent and queued sandbox runs in one process.

Every run may use its whole memory limit, so host memory is bounded by
`concurrency x` the per-run limit only if runs are counted: the local executor takes a
slot for each (in `devcapsules dev` and in the executor service alike).

One way to size it, for both hosts: `Capacity.sized(concurrency, queue_depth)`, whose
defaults (CPU count runs, 4 x that waiting) are the ones `devcapsules dev` uses and
`devcapsules executor serve --concurrency/--queue-depth` overrides.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
from collections.abc import AsyncIterator, Iterator

from devcapsules.errors import Unavailable

DEFAULT_CONCURRENCY = os.cpu_count() or 1
QUEUE_PER_SLOT = 4  # the default queue depth: this many waiting runs per slot


def queue_depth_for(concurrency: int, queue_depth: int | None = None) -> int:
    """The queue depth to use: the given one, else `QUEUE_PER_SLOT` per slot."""
    return concurrency * QUEUE_PER_SLOT if queue_depth is None else queue_depth


# Work no client is waiting on (generation verification) queues for a slot instead of
# being refused: the queue bound keeps interactive latency bounded, while host memory is
# bounded by the running runs alone, which patient work counts against like any other.
_PATIENT: contextvars.ContextVar[bool] = contextvars.ContextVar("patient", default=False)


@contextlib.contextmanager
def patient() -> Iterator[None]:
    """Runs started inside wait for a slot however long the queue is (never 503)."""
    token = _PATIENT.set(True)
    try:
        yield
    finally:
        _PATIENT.reset(token)


class Capacity:
    """At most `concurrency` runs at once and `queue_depth` waiting; the rest are refused
    at once (503 + Retry-After) rather than piling up behind a slow sandbox. A waiting
    run gives up after `max_wait_s` (its own time limit, from the local executor) with the
    same 503: whoever sent it would rather retry than wait longer than the run itself
    may take, and the Worker's deadline for a call is only 1.5 x that plus slack."""

    def __init__(self, concurrency: int, queue_depth: int, retry_after_s: int = 1):
        if concurrency < 1 or queue_depth < 0:
            raise ValueError("concurrency must be >= 1 and queue depth >= 0")
        self.concurrency, self.queue_depth = concurrency, queue_depth
        self.retry_after_s = retry_after_s
        self.admitted = 0  # running + waiting; one event loop, so no lock is needed
        self.patient = 0  # of which patient (not counted against the queue depth)
        self._slots = asyncio.Semaphore(concurrency)

    @classmethod
    def sized(
        cls,
        concurrency: int = DEFAULT_CONCURRENCY,
        queue_depth: int | None = None,
        retry_after_s: int = 1,
    ) -> Capacity:
        return cls(concurrency, queue_depth_for(concurrency, queue_depth), retry_after_s)

    @property
    def running(self) -> int:
        return min(self.admitted, self.concurrency)

    @contextlib.asynccontextmanager
    async def slot(self, max_wait_s: float | None = None) -> AsyncIterator[None]:
        patient = _PATIENT.get()
        if patient:
            self.patient += 1
        elif self.admitted - self.patient >= self.concurrency + self.queue_depth:
            raise self._busy()
        self.admitted += 1
        try:
            await self._wait_for_slot(None if patient else max_wait_s)
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self.admitted -= 1
            self.patient -= patient

    async def _wait_for_slot(self, max_wait_s: float | None) -> None:
        if max_wait_s is None:
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(max_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy() from None

    def _busy(self) -> Unavailable:
        return Unavailable(
            "executor_busy",
            "The executor is at capacity; retry shortly",
            details={"concurrency": self.concurrency, "queueDepth": self.queue_depth},
            retry_after_s=self.retry_after_s,
        )
