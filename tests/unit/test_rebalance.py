"""Partitions coming and going, with the runtime faked around ``Rebalancer``: a revoked
partition finishes the work already started on it and the gaps below it (within a bound),
forgets the rest, commits synchronously, and only then is let go."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.errors import RedisUnavailable
from consumer.offsets import PartitionTracker
from consumer.rebalance import Rebalancer

TOPIC = "orders"


class Consumer:
    def __init__(self, committed: dict[int, int] | None = None) -> None:
        self._committed = committed or {}
        self.assigned: list[tuple[int, int]] = []
        self.stored: list[list[tuple[int, int]]] = []
        self.commits: list[tuple[list[tuple[int, int]], bool]] = []
        self.refuse_commit = False
        self.refuse_committed = False

    def committed(self, partitions: list[TopicPartition], timeout: float
                  ) -> list[TopicPartition]:
        if self.refuse_committed:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return [TopicPartition(tp.topic, tp.partition, self._committed.get(tp.partition, -1001))
                for tp in partitions]

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned += [(tp.partition, tp.offset) for tp in partitions]

    def store_offsets(self, *, offsets: list[TopicPartition]) -> None:
        self.stored.append([(tp.partition, tp.offset) for tp in offsets])

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self.refuse_commit:
            raise KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
        self.commits.append(([(tp.partition, tp.offset) for tp in offsets], asynchronous))


class Recovery:
    def __init__(self) -> None:
        self.assigned_calls: list[tuple[int, int | None]] = []
        self.released_calls: list[tuple[int, bool]] = []
        self.down = False

    def assigned(self, partition: int, committed: int | None) -> None:
        if self.down:
            raise RedisUnavailable("down")
        self.assigned_calls.append((partition, committed))

    def released(self, partition: int, *, clean: bool) -> None:
        if self.down:
            raise RedisUnavailable("down")
        self.released_calls.append((partition, clean))


class Runtime:
    """What ``Rebalancer`` reads of the runtime. Messages are ``queued`` (not handed to a
    handler yet) or ``running``; each ``completion.settle()`` finishes whatever is running or
    still queued, as handlers would, except the ``stuck`` ones."""

    def __init__(self, *, call_s: float = 0.001, concurrency: int = 4,
                 committed: dict[int, int] | None = None) -> None:
        self.settings = SimpleNamespace(rebalance_timeout_s=5.0, concurrency=concurrency)
        self.executor = SimpleNamespace(call_s=call_s)
        self.consumer = Consumer(committed)
        self.recovery: Recovery | None = Recovery()
        self.flow = SimpleNamespace(assigned=self._flow_assigned, revoked=self._flow_revoked)
        self.flow_calls: list[tuple[str, list[int]]] = []
        self.observer = SimpleNamespace(ready=lambda ready: self.ready.append(ready))
        self.ready: list[bool] = []
        self.stopping = threading.Event()
        self.completion = SimpleNamespace(settle=self._settle)
        self.trackers: dict[int, PartitionTracker] = {}
        self.queued_messages: list[Any] = []
        self.running: list[Any] = []
        self.stuck: set[tuple[int, int]] = set()
        self.handled: list[tuple[int, int]] = []
        self.abandoned: list[tuple[int, int]] = []

    def _flow_assigned(self, partitions: list[int]) -> None:
        self.flow_calls.append(("assigned", partitions))

    def _flow_revoked(self, partitions: list[int]) -> None:
        self.flow_calls.append(("revoked", partitions))

    def take(self, partition: int, offsets: range, *, done: set[int] = frozenset(),
             running: set[int] = frozenset()) -> None:
        """Offsets taken in on ``partition``: ``done``, ``running`` or else queued."""
        tracker = self.trackers.setdefault(partition, PartitionTracker(TOPIC, partition))
        messages = [SimpleNamespace(partition=partition, offset=o, tracker=tracker)
                    for o in offsets]
        for message in messages:
            tracker.track(message)
        for message in messages:
            if message.offset in done:
                tracker.complete(message.offset)
            elif message.offset in running:
                self.running.append(message)
            else:
                self.queued_messages.append(message)

    def queued(self) -> list[Any]:
        return list(self.queued_messages)

    def discard(self, keep: Any) -> None:
        for message in [m for m in self.queued_messages if not keep(m)]:
            self.queued_messages.remove(message)
            message.tracker.abandon(message.offset)
            self.abandoned.append((message.partition, message.offset))

    def _settle(self) -> None:
        for message in self.running + self.queued_messages:
            if (message.partition, message.offset) in self.stuck:
                continue
            message.tracker.complete(message.offset)
            self.handled.append((message.partition, message.offset))
        self.running = [m for m in self.running if (m.partition, m.offset) in self.stuck]
        self.queued_messages = [m for m in self.queued_messages
                                if (m.partition, m.offset) in self.stuck]

    def start_offsets(self, consumer: Any, partitions: list[TopicPartition],
                      committed: dict[int, int]) -> list[TopicPartition]:
        return partitions


def tps(*partitions: int) -> list[TopicPartition]:
    return [TopicPartition(TOPIC, p) for p in partitions]


def test_a_revoked_partition_finishes_the_gaps_below_started_work_and_commits_it():
    rt = Runtime()
    rt.take(0, range(10), done={0}, running={1, 4})
    rt.take(1, range(3), running={0})
    Rebalancer(rt).on_revoke(rt.consumer, tps(0))
    assert sorted(o for p, o in rt.handled if p == 0) == [1, 2, 3, 4]
    assert sorted(o for p, o in rt.abandoned if p == 0) == [5, 6, 7, 8, 9]
    assert rt.consumer.stored == [[(0, 5)]]
    assert rt.consumer.commits == [([(0, 5)], False)], "synchronous, before returning"
    assert list(rt.trackers) == [1]
    assert rt.recovery.released_calls == [(0, True)]
    assert rt.flow_calls == [("revoked", [0])]


def test_other_partitions_keep_their_queued_work():
    rt = Runtime()
    rt.take(0, range(3), running={0})
    rt.take(1, range(3), running={0})
    rebalancer = Rebalancer(rt)
    rebalancer.let_go({0}, 5.0, commit=True)
    assert [(p, o) for p, o in rt.abandoned if p == 1] == []
    assert sorted(o for p, o in rt.handled if p == 1) == [0, 1, 2]
    assert rt.trackers[1].active and rt.trackers[1].position == 3


def test_gaps_too_slow_to_finish_in_half_the_time_are_left_and_only_running_work_ends():
    rt = Runtime(call_s=10.0, concurrency=1)
    rt.take(0, range(10), done={0}, running={1, 4})
    Rebalancer(rt).let_go({0}, 1.0, commit=True)
    assert sorted(o for _, o in rt.handled) == [1, 4]
    assert sorted(o for _, o in rt.abandoned) == [2, 3, 5, 6, 7, 8, 9]
    assert rt.consumer.commits == [([(0, 2)], False)], "never past an unfinished offset"


def test_work_that_does_not_finish_in_time_is_left_to_be_read_again(caplog):
    rt = Runtime()
    rt.take(0, range(3), done={0}, running={1, 2})
    rt.stuck = {(0, 1)}
    Rebalancer(rt).let_go({0}, 0.05, commit=True)
    assert "let go with work unfinished" in caplog.text
    assert rt.consumer.commits == [([(0, 1)], False)]
    assert 0 not in rt.trackers


def test_a_lost_partition_is_let_go_at_once_without_a_commit_or_a_clean_release():
    rt = Runtime()
    rt.take(0, range(4), done={0}, running={1})
    rt.stuck = {(0, 1)}
    tracker = rt.trackers[0]
    Rebalancer(rt).on_lost(rt.consumer, tps(0))
    assert rt.consumer.stored == [] and rt.consumer.commits == []
    assert rt.recovery.released_calls == [(0, False)]
    assert not tracker.active and rt.trackers == {}


def test_a_partition_with_nothing_done_commits_nothing():
    rt = Runtime()
    rt.take(0, range(2))
    rt.stuck = {(0, 0), (0, 1)}
    Rebalancer(rt).let_go({0}, 0.0, commit=True)
    assert rt.consumer.commits == [] and rt.trackers == {}


def test_a_failed_commit_or_redis_down_does_not_stop_the_let_go(caplog):
    rt = Runtime()
    rt.take(0, range(2), done={0, 1})
    rt.consumer.refuse_commit = True
    rt.recovery.down = True
    Rebalancer(rt).let_go({0}, 1.0, commit=True)
    assert "commit of" in caplog.text
    assert rt.trackers == {} and rt.flow_calls == [("revoked", [0])]


def test_letting_go_of_partitions_not_held_does_nothing():
    rt = Runtime()
    rt.take(1, range(2), done={0})
    Rebalancer(rt).let_go({0}, 1.0, commit=True)
    Rebalancer(rt).on_revoke(rt.consumer, [])
    assert rt.consumer.commits == [] and list(rt.trackers) == [1] and rt.flow_calls == []


def test_assigned_partitions_get_trackers_positioned_at_the_group_commit():
    rt = Runtime(committed={0: 42})
    Rebalancer(rt).on_assign(rt.consumer, tps(0, 1))
    assert rt.consumer.assigned == [(0, -1001), (1, -1001)]
    assert (rt.trackers[0].position, rt.trackers[1].position) == (42, None)
    assert rt.recovery.assigned_calls == [(0, 42), (1, None)]
    assert rt.flow_calls == [("assigned", [0, 1])]
    assert rt.ready == [True]


def test_unknown_commits_or_redis_down_do_not_stop_an_assignment(caplog):
    caplog.set_level(logging.WARNING)
    rt = Runtime(committed={0: 42})
    rt.consumer.refuse_committed = True
    rt.recovery.down = True
    Rebalancer(rt).on_assign(rt.consumer, tps(0))
    assert rt.trackers[0].position is None
    assert "committed offsets of orders[0] unknown" in caplog.text
    assert "crash-loop protection is off" in caplog.text
    assert rt.flow_calls == [("assigned", [0])]


def test_a_member_that_is_stopping_takes_no_new_partitions():
    rt = Runtime()
    rt.stopping.set()
    Rebalancer(rt).on_assign(rt.consumer, tps(0))
    assert rt.consumer.assigned == [] and rt.trackers == {}
