"""The in-process executor of `devcapsules dev` bounds its runs like the executor service:
`concurrency` at once, `queue_depth` waiting, 503 + Retry-After beyond. Without it, N
concurrent requests meant N sandboxes, each entitled to its whole memory limit."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from devcapsules.errors import Unavailable
from devcapsules.services.execution import local
from devcapsules.services.execution.local import Capacity
from devcapsules.services.execution.local import patient as capacity_patient
from devcapsules.services.plans import PlanTable

pytestmark = pytest.mark.slow
LIMITS = PlanTable().ceiling().clamp(5, None)


async def _until(condition) -> None:
    """Poll for a state the test needs before acting (a wait, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not condition():
        assert loop.time() < deadline, "the runs were never admitted"
        await asyncio.sleep(0.01)


def test_beyond_concurrency_and_queue_a_run_is_refused_with_retry_after():
    async def scenario() -> None:
        capacity = Capacity(concurrency=1, queue_depth=1, retry_after_s=3)
        executor = local.LocalExecutor(capacity)
        sleep = "import time; time.sleep(30)"
        running = asyncio.create_task(executor.execute(sleep, "python", stdin="", limits=LIMITS))
        queued = asyncio.create_task(executor.execute(sleep, "python", stdin="", limits=LIMITS))
        await _until(lambda: capacity.admitted == 2)
        with pytest.raises(Unavailable) as refused:
            await executor.execute("print(1)", "python", stdin="", limits=LIMITS)
        assert refused.value.status == 503 and refused.value.code == "executor_busy"
        assert refused.value.headers["Retry-After"] == "3"
        for task in (running, queued):
            task.cancel()
        await asyncio.gather(running, queued, return_exceptions=True)
        assert capacity.admitted == 0

    asyncio.run(scenario())


def test_every_local_executor_of_a_loop_shares_one_bound():
    async def scenario() -> None:
        first, second = local.LocalExecutor(), local.LocalExecutor()  # one per request
        assert first.slot is not second.slot
        capacity = local.shared_capacity()
        assert capacity is local.shared_capacity()
        assert capacity.concurrency == local.DEFAULT_CONCURRENCY
        assert capacity.queue_depth == 4 * local.DEFAULT_CONCURRENCY

    asyncio.run(scenario())


def test_patient_work_queues_beyond_the_depth_and_leaves_the_queue_to_clients():
    """Generation verification (no client waiting) is never refused, and its waiting runs
    do not take the places interactive requests queue in; it still waits for a slot."""

    async def scenario() -> None:
        capacity = Capacity(concurrency=1, queue_depth=1)
        release = asyncio.Event()

        async def hold(patient_run: bool) -> None:
            with capacity_patient() if patient_run else contextlib.nullcontext():
                async with capacity.slot():
                    await release.wait()

        background = [asyncio.create_task(hold(True)) for _ in range(5)]
        await _until(lambda: capacity.admitted == 5)
        assert capacity.running == 1  # waiting, not running: memory stays bounded
        # Interactive requests still get every place: concurrency + queue depth of them.
        clients = [asyncio.create_task(hold(False)) for _ in range(2)]
        await _until(lambda: capacity.admitted == 7)
        with pytest.raises(Unavailable):  # and no more
            async with capacity.slot():
                pass
        release.set()
        await asyncio.gather(*background, *clients)
        assert (capacity.admitted, capacity.patient) == (0, 0)

    asyncio.run(scenario())


def test_a_waiting_run_gives_up_after_its_wait_bound_and_patient_work_never_does():
    """The slot is held until the test releases it, so the bounded wait must expire: no
    race. A refused waiter leaves the queue (its place is free again)."""

    async def scenario() -> None:
        capacity = Capacity(concurrency=1, queue_depth=2, retry_after_s=2)
        release = asyncio.Event()

        async def hold(**kwargs) -> None:
            async with capacity.slot(**kwargs):
                await release.wait()

        holder = asyncio.create_task(hold())
        await _until(lambda: capacity.running == 1)
        with pytest.raises(Unavailable) as refused:
            async with capacity.slot(max_wait_s=0.05):
                pass
        assert refused.value.code == "executor_busy"
        assert refused.value.headers["Retry-After"] == "2"
        assert capacity.admitted == 1
        with capacity_patient():  # generation verification waits however long it takes
            waiter = asyncio.create_task(hold(max_wait_s=0.05))
            await _until(lambda: capacity.admitted == 2)
        await asyncio.sleep(0.2)  # well past its bound: it is still waiting, not refused
        assert not waiter.done()
        release.set()
        await asyncio.gather(holder, waiter)
        assert (capacity.admitted, capacity.patient) == (0, 0)

    asyncio.run(scenario())


def test_toolchain_discovery_leaves_the_event_loop_only_once(monkeypatch):
    # Discovery (~0.5 s of compiler probes) runs in a thread, once: every later run of the
    # process finds it cached and goes straight to its sandbox, without a thread hop.
    hops: list = []
    real = asyncio.to_thread

    async def counted(fn, *args, **kwargs):
        hops.append(fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(local, "_discovered", False)
    monkeypatch.setattr(local.asyncio, "to_thread", counted)

    async def three_runs_worth():
        return [await local._library() for _ in range(3)]

    libraries = asyncio.run(three_runs_worth())
    from devcapsules import executor

    assert libraries == [executor] * 3
    assert [fn.__name__ for fn in hops] == ["available_languages"]


def test_a_slot_held_past_its_block_is_given_back_when_its_tasks_are_done():
    async def scenario() -> None:
        capacity = Capacity(concurrency=1, queue_depth=1)
        teardown = asyncio.get_running_loop().create_future()
        async with capacity.slot() as held:
            held.until([teardown])
        assert (capacity.running, capacity.admitted) == (1, 1)  # still taken
        waiting = asyncio.create_task(_take(capacity))
        await asyncio.sleep(0)
        assert not waiting.done()
        teardown.set_result(None)
        await waiting  # the slot came back: the next run got it
        assert capacity.admitted == 0

    async def _take(capacity: Capacity) -> None:
        async with capacity.slot():
            pass

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["launcher", "lean"])
def test_a_warm_run_answers_before_its_teardown_which_keeps_its_slot(kind, monkeypatch):
    """The answer does not wait for the sandbox's reaping and removal, but the slot is
    not free before every process of the run is gone (its cgroup removed): both kinds of
    warm Python sandbox, the launcher's and the lean one (bwrap's status record)."""
    from devcapsules.executor import sandbox, warm

    if kind == "launcher":
        monkeypatch.setattr(sandbox, "in_process_python", lambda *_: False)
    made = warm.configure({"python": 1})
    made.refill_soon = lambda: None
    handed = []
    take = made.take
    made.take = lambda *a: handed.append(take(*a)) or handed[-1]

    def left(used) -> tuple[bool, bool]:
        groups = used.group.dirs if used.group else []
        return os.path.exists(used.workdir), any(os.path.exists(p) for p in groups)

    async def scenario() -> tuple:
        capacity = Capacity(concurrency=1, queue_depth=0)
        executor = local.LocalExecutor(capacity)
        result = await executor.execute("print('hi')", "python", stdin="", limits=LIMITS)
        (used,) = handed
        at_answer = (capacity.running, *left(used))
        await _until(lambda: capacity.running == 0)
        return result, at_answer, left(used), used

    try:
        result, at_answer, at_release, used = asyncio.run(scenario())
    finally:
        warm.configure({})
    assert result["stdout"] == "hi\n" and result["status"] == "ok"
    assert used.lean is (kind == "lean")
    assert at_answer[:2] == (1, True)  # answered while the sandbox was still being removed
    assert at_release == (False, False) and used.proc.returncode is not None
