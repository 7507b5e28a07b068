import asyncio

import pytest

from devcapsules.bindings.protocols import BindingError, Queue
from devcapsules.bindings.sqlite_queue import (
    ConsumerSettings,
    QueueBroker,
    QueueStore,
    SqliteQueue,
)
from tests.bindings.conftest import run


class Recorder:
    """A consumer that records deliveries and applies a per-test policy."""

    def __init__(self, policy=None):
        self.batches = []
        self.policy = policy or (lambda batch: None)

    async def __call__(self, batch):
        self.batches.append([(m.body, m.attempts) for m in batch.messages])
        self.policy(batch)


JOBS = ConsumerSettings(
    "jobs", max_batch_size=3, max_batch_timeout=5, max_retries=2, dead_letter_queue="dlq"
)
DLQ = ConsumerSettings("dlq", max_batch_size=10, max_batch_timeout=1)


@pytest.fixture
def store(tmp_path, clock):
    queue_store = QueueStore(tmp_path / "q.sqlite3", clock=clock)
    yield queue_store
    queue_store.close()


def send(store, *bodies, queue="jobs"):
    producer = SqliteQueue(store, queue)
    for body in bodies:
        run(producer.send(body))


def test_producer_implements_the_protocol(store):
    assert isinstance(SqliteQueue(store, "jobs"), Queue)


def test_message_over_128_kb_is_refused(store):
    producer = SqliteQueue(store, "jobs")
    run(producer.send("x" * (128_000 - 2)))  # 128,000 bytes once JSON-quoted
    with pytest.raises(BindingError, match="exceeds limit"):
        run(producer.send("x" * (128_000 - 1)))


def test_send_batch_limits_and_delay(store, clock):
    producer = SqliteQueue(store, "jobs")
    with pytest.raises(BindingError, match="at most 100"):
        run(producer.send_batch([{"body": i} for i in range(101)]))
    with pytest.raises(BindingError, match="delaySeconds"):
        run(producer.send(1, delay_seconds=13 * 3600))
    run(producer.send_batch([{"body": 1}, {"body": 2, "delaySeconds": 30}]))
    assert store.due("jobs")[0] == 1
    clock.now += 30
    assert store.due("jobs")[0] == 2


def test_batch_waits_for_size_or_timeout(store, clock):
    recorder = Recorder()
    broker = QueueBroker(store, [JOBS], recorder)
    send(store, "a", "b")
    assert run(broker.deliver_due()) == 0  # neither full nor timed out
    clock.now += 5
    assert run(broker.deliver_due()) == 2
    send(store, 1, 2, 3, 4)
    assert run(broker.deliver_due()) == 3  # a full batch goes at once, the rest waits
    assert [len(b) for b in recorder.batches] == [2, 3]


def test_returning_acks_and_nothing_is_redelivered(store, clock):
    recorder = Recorder()
    broker = QueueBroker(store, [JOBS], recorder)
    send(store, "a")
    run(broker.deliver_due(force=True))
    clock.now += 3600
    assert run(broker.deliver_due(force=True)) == 0
    assert store.pending("jobs") == 0


def test_explicit_retry_redelivers_with_delay_and_counts_attempts(store, clock):
    def retry_first(batch):
        if batch.messages[0].attempts == 1:
            batch.messages[0].retry(delay_seconds=10)

    recorder = Recorder(retry_first)
    broker = QueueBroker(store, [JOBS], recorder)
    send(store, "a")
    run(broker.deliver_due(force=True))
    assert run(broker.deliver_due(force=True)) == 0  # still delayed
    clock.now += 10
    run(broker.deliver_due(force=True))
    assert recorder.batches == [[("a", 1)], [("a", 2)]]


def test_raising_handler_retries_unacked_messages(store):
    def ack_one_then_crash(batch):
        batch.messages[0].ack()
        raise RuntimeError("crash mid-batch")

    errors = []
    broker = QueueBroker(store, [JOBS], Recorder(ack_one_then_crash), lambda q, e: errors.append(e))
    send(store, "a", "b")
    run(broker.deliver_due(force=True))
    assert len(errors) == 1
    assert store.pending("jobs") == 1  # "a" acked, "b" kept for redelivery


def test_exhausted_retries_go_to_the_dead_letter_queue(store):
    dead = []

    def always_retry(batch):
        if batch.queue == "jobs":
            batch.retry_all()
        else:
            dead.extend((m.body, m.attempts) for m in batch.messages)

    recorder = Recorder(always_retry)
    broker = QueueBroker(store, [JOBS, DLQ], recorder)
    send(store, "poison")
    for _ in range(5):
        run(broker.deliver_due(force=True))
    jobs_attempts = [b[0][1] for b in recorder.batches if b and b[0][0] == "poison"]
    assert jobs_attempts[:3] == [1, 2, 3]  # first delivery + max_retries (2) retries
    assert dead == [("poison", 1)]
    assert store.pending("jobs") == 0 and store.pending("dlq") == 0


def test_without_dead_letter_queue_exhausted_messages_are_dropped(store):
    consumer = ConsumerSettings("jobs", max_batch_size=1, max_retries=0)
    recorder = Recorder(lambda batch: batch.retry_all())
    broker = QueueBroker(store, [consumer], recorder)
    send(store, "x")
    run(broker.deliver_due(force=True))
    assert run(broker.deliver_due(force=True)) == 0
    assert store.pending("jobs") == 0


def test_in_flight_messages_survive_a_restart(tmp_path, clock):
    path = tmp_path / "q.sqlite3"
    first = QueueStore(path, clock=clock)
    send(first, "acked", "in-flight")
    first.ack(first.lease("jobs", 1)[0][0])
    first.lease("jobs", 1)  # the host dies while this one is being handled
    first.close()

    second = QueueStore(path, clock=clock)
    recorder = Recorder()
    broker = QueueBroker(second, [JOBS], recorder)
    assert run(broker.deliver_due(force=True)) == 0  # still leased until start-up
    second.release_all_leases()
    run(broker.deliver_due(force=True))
    assert recorder.batches == [[("in-flight", 2)]]
    second.close()


def test_run_loop_delivers_until_stopped(store):
    recorder = Recorder()
    consumer = ConsumerSettings("jobs", max_batch_size=1, max_batch_timeout=0)
    broker = QueueBroker(store, [consumer], recorder)

    async def scenario():
        stop = asyncio.Event()
        task = asyncio.create_task(broker.run(stop, max_wait=0.01))
        await SqliteQueue(store, "jobs").send({"n": 1})
        for _ in range(100):
            if recorder.batches:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    run(scenario())
    assert recorder.batches == [[({"n": 1}, 1)]]


def test_next_batch_is_timed_from_the_store(store, clock):
    broker = QueueBroker(store, [JOBS], Recorder())
    assert broker.seconds_to_next_batch() is None  # nothing waiting: no deadline
    send(store, "a", "b")
    assert broker.seconds_to_next_batch() == 5  # a partial batch: its oldest's timeout
    clock.now += 2
    assert broker.seconds_to_next_batch() == 3
    send(store, "c")
    assert broker.seconds_to_next_batch() == 0  # full: at once
    run(broker.deliver_due())
    run(SqliteQueue(store, "jobs").send("later", delay_seconds=30))
    assert broker.seconds_to_next_batch() == 30  # a delayed one: when it shows
    clock.now += 45
    assert broker.seconds_to_next_batch() == 0  # shown, and sent 45 s ago


# The broker's own wake-ups, on the real clock: `max_wait` (how late another process's
# write may be seen) is far longer than any wait below, so each delivery proves the pass
# came from the send, the retry or the deadline, not from a poll.
QUIET = 60.0


def deliveries_while_running(store, consumers, scenario, policy=None):
    recorder = Recorder(policy)
    broker = QueueBroker(store, consumers, recorder)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(broker.run(stop, max_wait=QUIET))
        try:
            await scenario(recorder)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)  # `stop` ends the wait at once, too

    run(main())
    return recorder.batches


async def until(predicate, seconds=5.0):
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not delivered: the broker was not woken")


@pytest.fixture
def real_store(tmp_path):
    queue_store = QueueStore(tmp_path / "q.sqlite3")
    yield queue_store
    queue_store.close()


def test_a_send_wakes_the_broker(real_store):
    consumer = ConsumerSettings("jobs", max_batch_size=1, max_batch_timeout=QUIET)

    async def scenario(recorder):
        await asyncio.sleep(0.05)  # the broker is waiting
        await SqliteQueue(real_store, "jobs").send("now")
        await until(lambda: recorder.batches)
        # A send from another thread (a threaded caller of the binding) wakes it too.
        await asyncio.to_thread(real_store.enqueue, "jobs", [('"threaded"', 0)])
        await until(lambda: len(recorder.batches) == 2)

    batches = deliveries_while_running(real_store, [consumer], scenario)
    assert batches == [[("now", 1)], [("threaded", 1)]]


def test_a_partial_batch_goes_at_its_timeout_and_a_retry_comes_back(real_store):
    consumer = ConsumerSettings("jobs", max_batch_size=10, max_batch_timeout=0.2, max_retries=1)

    def retry_first_attempt(batch):
        if batch.messages[0].attempts == 1:
            batch.retry_all(delay_seconds=1)

    async def scenario(recorder):
        await SqliteQueue(real_store, "jobs").send("partial")
        await until(lambda: len(recorder.batches) == 2)

    batches = deliveries_while_running(real_store, [consumer], scenario, retry_first_attempt)
    assert batches == [[("partial", 1)], [("partial", 2)]]


def test_an_idle_broker_does_not_poll(real_store, monkeypatch):
    queries = []
    monkeypatch.setattr(real_store, "schedule", lambda q, now: queries.append(q) or (0, None, None))

    async def scenario(recorder):
        await asyncio.sleep(0.3)

    deliveries_while_running(real_store, [JOBS, DLQ], scenario)
    assert queries == ["jobs", "dlq"]  # one pass at start-up, then asleep until `stop`
