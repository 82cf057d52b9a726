"""Stage 6: an offset completes only once its outcome is durable (a done mark in Redis, a dead
letter the broker acknowledged), and only moved positions of partitions still held are stored
for the committer."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.completion import Completion
from consumer.dispatch import lane_of
from consumer.duplicates import DuplicateFilter
from consumer.errors import CrashLoopError, DecodeError, FramingError, RedisUnavailable
from consumer.message import Message
from consumer.offsets import PartitionTracker
from consumer.outcome import OutcomePolicy, Verdict
from consumer.recovery import Recovery
from consumer.retry import BackoffPolicy
from tests.support.inline import InlineExecutor

TOPIC = "orders"


class Raw:
    def __init__(self, timestamp_ms: int) -> None:
        self._timestamp = timestamp_ms

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)

    def headers(self) -> None:
        return None


@dataclass
class Counters:
    redis_hit: int = 0


class Store:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.down = False
        self.counters = Counters()

    def seen(self, ids: list[str], also: Any = None) -> list[bool]:
        if also is not None:
            also(None)   # the ledger's record rides on the lookup's round trip
        return [i in self.done for i in ids]

    def record(self, ids: list[str]) -> None:
        if self.down:
            raise RedisUnavailable("down")
        self.done.update(ids)


class DeadLetters:
    """Letters wait here for the test to acknowledge or refuse them, as the broker would."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any]] = []
        self.polls = 0

    def send(self, message: Any, on_done: Any) -> None:
        self.sent.append((message, on_done))

    def poll(self) -> None:
        self.polls += 1

    def answer(self, error: Exception | None = None) -> None:
        for _, on_done in self.sent:
            on_done(error)
        self.sent.clear()


class Ledger:
    """The crash ledger's interface, in memory."""

    def __init__(self, running: dict[int, set[int]] | None = None) -> None:
        self.running = running or {}
        self.charged: list[tuple[int, int]] = []
        self.counts: dict[tuple[int, int], int] = {}
        self.roundtrips = 0

    def load(self, partition: int) -> tuple[dict[int, int], set[int]]:
        return {}, set(self.running.get(partition, ()))

    def charge(self, partition: int, offset: int) -> int:
        self.charged.append((partition, offset))
        self.counts[partition, offset] = self.counts.get((partition, offset), 0) + 1
        return self.counts[partition, offset]

    def settled(self, batches: Any, counted: Any) -> None:
        pass

    def starting(self, members: Any) -> None:
        pass

    def queue_starting(self, pipe: Any, members: Any) -> None:
        pass


class Consumer:
    def __init__(self) -> None:
        self.stored: list[list[tuple[int, int]]] = []
        self.refuse = False

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None:
        if self.refuse:
            raise KafkaException(KafkaError(KafkaError._STATE))
        self.stored.append([(tp.partition, tp.offset) for tp in offsets])


class Feeder:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, messages: list[Any]) -> None:
        self.added += messages


class Pipeline:
    """A Completion with everything around it faked, and trackers to make messages on."""

    def __init__(self, *, dedup: bool = True, recovery: Recovery | None = None,
                 marks_writer: Executor | None = None) -> None:
        self.store = Store()
        self.duplicates = DuplicateFilter(self.store, False) if dedup else None
        self.letters = DeadLetters()
        self.consumer = Consumer()
        self.feeder = Feeder()
        self.results: deque[tuple[list[Any], Verdict]] = deque()
        self.trackers = {p: PartitionTracker(TOPIC, p) for p in (0, 1)}
        self.policy = OutcomePolicy(max_attempts=3, backoff=BackoffPolicy())
        self.completion = Completion(
            consumer=self.consumer, executor=_Results(self.results), feeder=self.feeder,
            duplicates=self.duplicates, dead_letters=self.letters, policy=self.policy,
            recovery=recovery, marks_writer=marks_writer or InlineExecutor())

    def take(self, partition: int, offset: int, message_id: str | None = None) -> Message:
        tracker = self.trackers[partition]
        message = Message(Raw(1_000 + offset), TOPIC, partition, offset, None,
                          lane_of("key")(None, partition), tracker)
        message.message_id = message_id or f"{TOPIC}/{partition}/{offset}"
        tracker.track(message)
        return message

    def settle(self, messages: list[Any], verdict: Verdict) -> None:
        self.results.append((messages, verdict))
        self.completion.settle()

    def position(self, partition: int = 0) -> int | None:
        return self.trackers[partition].position


class _Results:
    def __init__(self, results: deque[tuple[list[Any], Verdict]]) -> None:
        self.results = results


def test_done_without_dedup_completes_at_once():
    p = Pipeline(dedup=False)
    messages = [p.take(0, 0), p.take(0, 1)]
    p.settle(messages, Verdict.DONE)
    assert p.position() == 2
    assert p.completion.counts == {"processed": 2}


def test_done_with_dedup_completes_only_once_recorded_in_redis():
    p = Pipeline()
    messages = [p.take(0, 0, "a"), p.take(0, 1, "b")]
    p.duplicates.admit(messages)
    p.store.down = True
    p.settle(messages, Verdict.DONE)
    assert p.position() is None and p.completion.pending_records == 2
    assert p.completion.counts == {}
    p.store.down = False
    p.completion.settle()
    assert p.store.done == {"a", "b"}
    assert p.position() == 2 and p.completion.pending_records == 0
    assert p.completion.counts == {"processed": 2}


class SlowStore(Store):
    """Redis that answers a record only when the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()
        self.batches: list[list[str]] = []

    def record(self, ids: list[str]) -> None:
        self.batches.append(list(ids))
        assert self.answer.wait(10)
        super().record(ids)


def _settle_until(p: Pipeline, done: Any) -> None:
    for _ in range(1000):
        p.completion.settle()
        if done():
            return
        threading.Event().wait(0.005)
    raise AssertionError("never settled")


def test_done_marks_are_written_off_the_poll_thread_and_gather_while_one_batch_is_out():
    with ThreadPoolExecutor(1) as writer:
        p = Pipeline(marks_writer=writer)
        p.store = p.duplicates._store = SlowStore()   # type: ignore[union-attr]
        first, second, third = p.take(0, 0, "a"), p.take(0, 1, "b"), p.take(0, 2, "c")
        p.duplicates.admit([first, second, third])
        p.settle([first], Verdict.DONE)          # returns while Redis has not answered
        p.settle([second], Verdict.DONE)
        p.settle([third], Verdict.DONE)
        assert p.position() is None and p.completion.pending_records == 3
        p.store.answer.set()
        _settle_until(p, lambda: p.position() == 3)
        assert p.store.batches == [["a"], ["b", "c"]]
        assert p.completion.counts == {"processed": 3} and p.completion.pending_records == 0


def test_settle_is_due_for_handler_results_and_for_a_record_that_came_back():
    with ThreadPoolExecutor(1) as writer:
        p = Pipeline(marks_writer=writer)
        p.store = p.duplicates._store = SlowStore()   # type: ignore[union-attr]
        assert not p.completion.settle_due and p.completion.record_out is None
        message = p.take(0, 0, "a")
        p.duplicates.admit([message])
        p.results.append(([message], Verdict.DONE))
        assert p.completion.settle_due, "a handler's result waits"
        p.completion.settle()
        record_out = p.completion.record_out
        assert record_out is not None and not p.completion.settle_due, "Redis has not answered"
        p.store.answer.set()
        record_out.result(timeout=10)
        assert p.completion.settle_due, "the record came back: its messages can complete"
        p.completion.settle()
        assert p.position() == 1 and p.completion.record_out is None


def test_a_done_mark_redis_refused_is_written_again_on_a_later_turn():
    with ThreadPoolExecutor(1) as writer:
        p = Pipeline(marks_writer=writer)
        message = p.take(0, 0, "a")
        p.duplicates.admit([message])
        p.store.down = True
        p.settle([message], Verdict.DONE)
        _settle_until(p, lambda: p.completion.pending_records == 1 and p.duplicates.redis_down)
        assert p.position() is None
        p.store.down = False
        _settle_until(p, lambda: p.position() == 1)
        assert p.store.done == {"a"}


def test_copies_waiting_behind_a_done_message_complete_as_duplicates():
    p = Pipeline()
    first, copy, other = p.take(0, 0, "a"), p.take(0, 1, "a"), p.take(1, 0, "b")
    assert p.duplicates.admit([first, copy, other]) == [first, other]
    p.settle([first, other], Verdict.DONE)
    assert p.completion.counts == {"processed": 2, "duplicate": 1}
    assert (p.position(0), p.position(1)) == (2, 1)
    assert p.feeder.added == [], "a duplicate never reaches a handler"


def test_a_dead_letter_completes_only_when_the_broker_acknowledges_it():
    p = Pipeline()
    message = p.take(0, 0, "a")
    p.duplicates.admit([message])
    p.completion.reject(message, DecodeError("bad bytes"))
    assert [m for m, _ in p.letters.sent] == [message]
    assert p.position() is None
    p.letters.answer(None)
    assert p.position() == 1 and p.completion.counts == {"dead_lettered": 1}


def test_a_dead_lettered_first_copy_hands_its_turn_to_the_next_copy():
    p = Pipeline()
    first, copy = p.take(0, 0, "a"), p.take(0, 1, "a")
    p.duplicates.admit([first, copy])
    p.policy.decide(first, KeyError("bug"))   # as the executor does before reporting it
    p.settle([first], Verdict.DEAD_LETTER)
    p.letters.answer(None)
    assert p.feeder.added == [copy], "the next copy may still succeed"
    assert p.position() == 1


def test_a_refused_dead_letter_is_sent_again_on_the_next_turn():
    p = Pipeline(dedup=False)
    message = p.take(0, 0)
    p.completion.reject(message, DecodeError("bad bytes"))
    p.letters.answer(KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT)))
    assert p.position() is None and p.letters.sent == []
    p.completion.settle()
    assert [m for m, _ in p.letters.sent] == [message]
    p.letters.answer(None)
    assert p.position() == 1 and p.completion.counts == {"dead_lettered": 1}


def test_settle_polls_the_dead_letter_producer_every_turn():
    p = Pipeline()
    p.completion.settle()
    p.completion.settle()
    assert p.letters.polls == 2


def test_a_retry_is_counted_and_charged_to_the_ledger_without_completing():
    ledger = Ledger()
    p = Pipeline(recovery=Recovery(ledger, max_attempts=3))
    message = p.take(1, 7)
    p.settle([message], Verdict.RETRY)
    assert ledger.charged == [(1, 7)]
    assert p.completion.counts == {"retried": 1}
    assert p.position(1) is None


def test_messages_found_done_elsewhere_complete_as_duplicates_with_their_copies():
    p = Pipeline()
    first, copy = p.take(0, 0, "a"), p.take(0, 1, "a")
    p.duplicates.admit([first, copy])
    p.settle([first], Verdict.DUPLICATE)
    assert p.completion.counts == {"duplicate": 2}
    assert p.position() == 2


def test_data_errors_are_counted_by_reason_and_dead_lettered_as_data():
    p = Pipeline()
    bad = [p.take(0, 0), p.take(0, 1), p.take(0, 2)]
    p.completion.data_errors([(bad[0], FramingError("short")), (bad[1], DecodeError("x")),
                              (bad[2], FramingError("magic"))])
    assert p.completion.data_error_reasons == {"framing": 2, "decode": 1}
    assert [m for m, _ in p.letters.sent] == bad
    assert {m.failure.category for m in bad} == {"data"}


def test_a_crash_loop_is_dead_lettered_as_a_handler_failure():
    p = Pipeline()
    message = p.take(0, 0)
    p.completion.reject(message, CrashLoopError("died 3 times"))
    assert message.failure.category == "handler"
    assert isinstance(message.failure.error, CrashLoopError)
    assert len(p.letters.sent) == 1


def test_crash_suspects_run_one_at_a_time_through_submit_and_settle():
    recovery = Recovery(Ledger(running={0: {5, 6}}), max_attempts=3)
    recovery.assigned(0, committed=5)
    p = Pipeline(dedup=False, recovery=recovery)
    m5, m6, m7 = p.take(0, 5), p.take(0, 6), p.take(0, 7)
    p.completion.submit([m5, m6, m7])
    assert p.feeder.added == [m5]
    p.settle([m5], Verdict.DONE)
    assert p.feeder.added == [m5, m6]
    p.settle([m6], Verdict.DONE)
    assert p.feeder.added == [m5, m6, m7]


def test_store_offsets_hands_over_only_moved_positions_of_partitions_still_held():
    p = Pipeline(dedup=False)
    p.settle([p.take(0, 0), p.take(1, 0)], Verdict.DONE)
    p.trackers[1].active = False
    stored = p.completion.store_offsets(p.trackers)
    assert [(tp.partition, tp.offset) for tp in stored] == [(0, 1)]
    assert p.consumer.stored == [[(0, 1)]]
    assert p.completion.store_offsets(p.trackers) == [], "nothing moved since"
    assert p.consumer.stored == [[(0, 1)]]


def test_a_refused_store_is_not_fatal():
    p = Pipeline(dedup=False)
    p.settle([p.take(0, 0)], Verdict.DONE)
    p.consumer.refuse = True
    assert len(p.completion.store_offsets(p.trackers)) == 1
    assert not p.trackers[0].dirty


def test_late_outcomes_of_a_revoked_partition_do_not_move_its_position():
    p = Pipeline(dedup=False)
    message = p.take(0, 0)
    p.trackers[0].active = False
    p.settle([message], Verdict.DONE)
    assert p.position() is None and p.completion.counts == {"processed": 1}


@pytest.mark.parametrize("sampling", [True, False])
def test_one_settled_message_in_four_is_sampled_for_end_to_end_latency(sampling):
    p = Pipeline(dedup=False)
    if not sampling:
        p.completion.latency_sample = None
    p.settle([p.take(0, o) for o in range(8)], Verdict.DONE)
    assert p.completion.latency_sample == ([1_000, 1_004] if sampling else None)
