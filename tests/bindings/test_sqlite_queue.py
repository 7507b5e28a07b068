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
        task = asyncio.create_task(broker.run(stop, poll_interval=0.01))
        await SqliteQueue(store, "jobs").send({"n": 1})
        for _ in range(100):
            if recorder.batches:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    run(scenario())
    assert recorder.batches == [[({"n": 1}, 1)]]
