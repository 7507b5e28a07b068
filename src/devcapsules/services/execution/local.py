"""`LocalExecutor`: the sandbox library in this process (`devcapsules dev`, tests, and the
executor service). The library is imported on first use only: the Worker never loads
this module's subprocess machinery, and neither does anything that merely imports routes.

The library is asyncio-native (subprocesses awaited on the loop); only toolchain discovery
is blocking (it probes compilers once), so it runs in a thread the first time.

Runs arrive with their `RunLimits` already clamped and size-checked (once, by the caller:
services/execution/runs.py, or the executor service); the library takes them as they are
(`run=`), under their plan's caps, instead of clamping and checking again.

Its slots, `Capacity`: a bound on concurrent and queued sandbox runs in one process.

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
import sys
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from devcapsules.errors import TooLarge, Unavailable
from devcapsules.schemas.execution import BatchRun, SuiteResult, Summary, TestResult
from devcapsules.services.execution.base import (
    invalid_test_cases,
    run_each,
    unavailable,
    unsupported_language,
)
from devcapsules.services.plans import RunLimits


class LocalExecutor:
    """`capacity`: the slots runs take (default: this event loop's shared one, so every
    LocalExecutor of a process, one per request, counts against the same bound)."""

    name = "local"

    def __init__(self, capacity: Capacity | None = None) -> None:
        self.capacity = capacity

    @contextlib.asynccontextmanager
    async def slot(self, limits: RunLimits) -> AsyncIterator[None]:
        """A run waits for its slot at most its own time limit (then 503 executor_busy).
        A warm run answers before its sandbox is reaped and removed: the slot is held
        until that is done too (`warm.lingering`), so host memory stays bounded by the
        runs the slots count."""
        from devcapsules.executor.warm import lingering

        capacity = self.capacity or shared_capacity()
        async with capacity.slot(max_wait_s=limits.time_limit_s) as held:
            with lingering() as teardowns:
                try:
                    yield
                finally:
                    held.until(teardowns)

    async def execute(
        self, source_code: str, language: str, *, stdin: str, limits: RunLimits
    ) -> dict[str, Any]:
        lib = await _library()
        async with self.slot(limits):
            with library_errors():
                result = await lib.execute(source_code, language, stdin=stdin, run=limits)
        return execution_dict(result)

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> SuiteResult:
        lib = await _library()
        async with self.slot(limits):
            with library_errors():
                result = await lib.run_tests(
                    user_code, test_cases, language, function_name, run=limits
                )
        return suite_result(result)

    async def run_tests_batch(
        self, runs: list[BatchRun], language: str, *, limits: RunLimits
    ) -> list[SuiteResult]:
        """Python function tests: one sandbox and ONE slot for the whole batch (a forked
        process per run inside: executor/tests_batch.py); anything else, or a single run,
        a sandbox per run (`run_each`)."""
        lib = await _library()
        with library_errors():
            suites = [lib.SuiteRun(r.userCode, r.testCases, r.functionName) for r in runs]
            together = len(runs) > 1 and lib.batchable(language, suites)
        if not together:
            return await run_each(self, runs, language, limits)
        async with self.slot(limits):
            with library_errors():
                results = await lib.run_tests_batch(suites, language, run=limits)
        return [suite_result(result) for result in results]

    async def languages(self) -> list[dict[str, Any]]:
        lib = await _library()
        return [
            {"language": lang.name, "version": lang.version, "aliases": list(lang.aliases)}
            for lang in lib.available_languages()
        ]

    async def unavailable_languages(self) -> list[dict[str, str]]:
        """Toolchains this host has that the sandbox cannot run, each with the reason."""
        lib = await _library()
        return [{"language": n, "reason": r} for n, r in lib.unusable_languages().items()]


# Per event loop: asyncio primitives belong to the loop they first wait on.
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
    async def slot(self, max_wait_s: float | None = None) -> AsyncIterator[Held]:
        """Admit one run (or refuse it: 503) and wait for a free slot; the slot is given
        back when the block ends, or later if the block said so (`Held.until`)."""
        patient = _PATIENT.get()
        if patient:
            self.patient += 1
        elif self.admitted - self.patient >= self.concurrency + self.queue_depth:
            raise self._busy()
        self.admitted += 1
        held, acquired = Held(), False
        try:
            await self._wait_for_slot(None if patient else max_wait_s)
            acquired = True
            yield held
        finally:
            held.then(lambda: self._leave(acquired, patient))

    def _leave(self, acquired: bool, patient: bool) -> None:
        if acquired:
            self._slots.release()
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


class Held:
    """A taken slot: `until(tasks)` keeps it taken after its block, until they are done
    (a warm sandbox's teardown: the run's processes and memory are not gone before)."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future] = set()
        self._release: Any = None

    def until(self, tasks: list[asyncio.Future]) -> None:
        self._pending.update(task for task in tasks if not task.done())

    def then(self, release) -> None:
        """Give the slot back now, or when the last pending task is done."""
        if not self._pending:
            release()
            return
        self._release = release
        for task in self._pending:
            task.add_done_callback(self._one_done)

    def _one_done(self, task: asyncio.Future) -> None:
        self._pending.discard(task)
        if not self._pending and self._release is not None:
            release, self._release = self._release, None
            release()


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Capacity] = (
    weakref.WeakKeyDictionary()
)


def shared_capacity() -> Capacity:
    """The in-process bound of `devcapsules dev`: CPU-count runs, 4x that waiting."""
    loop = asyncio.get_running_loop()
    if loop not in _SHARED:
        _SHARED[loop] = Capacity.sized()
    return _SHARED[loop]


async def sandbox_check() -> str:
    """Prove the sandbox can start (once per process; a failure is retried next time):
    returns what it runs on, or raises `SandboxUnavailable` saying what is missing. Also
    creates this host's scratch directory, sweeping those of hosts that died."""
    from devcapsules.executor import sandbox

    found = await asyncio.to_thread(sandbox.detect_sandbox)
    return found.describe()


async def announce_sandbox(
    logger: Any, warm_pool: str | None = None, concurrency: int = DEFAULT_CONCURRENCY
) -> None:
    """The start-up line about code execution: ready, or refused and why (said once).
    Runs on the main thread before the server starts: also where SIGTERM is made to
    unwind, so the host's scratch directory is removed on a plain `kill` too. Then the
    warm pool (`EXECUTOR_WARM_POOL`; unset: `python=<concurrency>`) starts filling."""
    from devcapsules.executor import SandboxUnavailable, hostdir

    hostdir.unwind_on_sigterm()

    try:
        bwrap = await sandbox_check()
    except SandboxUnavailable as exc:
        logger.error("sandbox_unavailable", message=f"code execution is refused: {exc}")
        return
    from devcapsules.executor import cgroup

    limits = await asyncio.to_thread(cgroup.describe)
    logger.info("sandbox_ready", bwrap=bwrap, runLimits=limits, concurrency=concurrency)
    # In the background: the server listens meanwhile (runs go cold until it is filled).
    task = asyncio.get_running_loop().create_task(start_warm_pool(logger, warm_pool, concurrency))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task] = set()


async def start_warm_pool(logger: Any, raw: str | None, concurrency: int) -> None:
    """Fill the warm pool, or say why there is none (runs then go cold: same isolation).
    Its total is at most `concurrency`: a warm sandbox runs inside a slot, so more idle
    ones than slots could never all be used, and each idle one holds memory (the bound
    is concurrency x (run memory limit + an idle sandbox's ~15 MB))."""
    from devcapsules.executor import warm

    try:
        sizes = warm.parse_sizes(f"python={concurrency}" if raw is None else raw)
    except warm.WarmPoolConfigError as exc:
        logger.error("warm_pool_invalid", message=f"{exc}; runs go cold")
        return
    if sum(sizes.values()) > concurrency:
        logger.error(
            "warm_pool_invalid",
            message=f"EXECUTOR_WARM_POOL totals {sum(sizes.values())} sandboxes, above the "
            f"concurrency {concurrency}; runs go cold",
        )
        return
    pool = await asyncio.to_thread(warm.configure, sizes)
    logger.info("warm_pool_ready", sizes=pool.sizes if pool else {})


def warm_pool_state() -> dict[str, dict[str, int]]:
    """The warm pool per language (`WarmPool.readiness`), {} when there is none."""
    warm = _warm_if_loaded()
    pool = warm.pool() if warm is not None else None
    return pool.readiness() if pool is not None else {}


def drain_warm_pool() -> None:
    """At server shutdown: kill every idle warm sandbox (atexit would too; this is sooner)."""
    warm = _warm_if_loaded()
    if warm is not None:
        warm.configure({})


def _warm_if_loaded():
    # Not imported here: a host that never configured a pool has none to look at.
    return sys.modules.get("devcapsules.executor.warm")


async def _library() -> Any:
    from devcapsules import executor

    global _discovered
    if not _discovered:
        # Discovery probes every compiler once (javac alone ~0.5 s): keep it off the loop.
        # Cached for the process after that: later runs skip the thread hop (a wake-up
        # of a pool thread and the GIL handed back and forth, on every run's path).
        await asyncio.to_thread(executor.available_languages)
        _discovered = True
    return executor


_discovered = False


@contextlib.contextmanager
def library_errors() -> Iterator[None]:
    """The library's exceptions -> the HTTP errors its docstring promises."""
    from devcapsules import executor as lib

    try:
        yield
    except lib.UnknownLanguage as exc:
        raise unsupported_language(exc.name, exc.supported) from None
    except lib.InvalidTestCases as exc:
        raise invalid_test_cases(str(exc)) from None
    except lib.SourceTooLarge as exc:
        raise TooLarge("source_too_large", str(exc)) from None
    except lib.StdinTooLarge as exc:
        raise TooLarge("stdin_too_large", str(exc)) from None
    except lib.SandboxUnavailable as exc:
        raise unavailable("sandbox_unavailable", str(exc)) from None


def execution_dict(result: Any) -> dict[str, Any]:
    return {
        "status": result.status,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exitCode": result.exit_code,
        "signal": result.signal,
        "compileOutput": result.compile_output,
        "timeMs": result.time_ms,
        "memoryKb": result.memory_kb,
        "stdoutTruncated": result.stdout_truncated,
        "stderrTruncated": result.stderr_truncated,
        "language": result.language,
        "version": result.version,
    }


def suite_result(result: Any) -> SuiteResult:
    """The library's `TestRunResult` as the shared typed result (each case in its public
    view: `as_dict` leaves a hidden case's actual/expected unset, so they stay unsent)."""
    return SuiteResult(
        summary=Summary(passed=result.passed, total=result.total, status=result.status),
        results=[TestResult(**test.as_dict()) for test in result.tests],
        compileOutput=result.compile_output,
        error=result.error,
        timeMs=result.time_ms,
        memoryKb=result.memory_kb,
        language=result.language,
        version=result.version,
    )
