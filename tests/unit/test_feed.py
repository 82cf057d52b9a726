"""Stage 4: admitted messages wait on the poll thread and go to the executor in batches that
keep it just fed, each batch looked at once by the pre-start step."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from consumer.errors import RedisUnavailable
from consumer.feed import (
    FEED_AHEAD_S,
    PRESTART_RETRY_S,
    READY_MAX,
    READY_MIN,
    READY_PER_SLOT,
    Feeder,
)


class Executor:
    def __init__(self, concurrency: int = 4, pace_s: float = 1.0, ready: int = 0) -> None:
        self.concurrency = concurrency
        self.pace_s = pace_s
        self.ready = ready
        self.submitted: list[list[Any]] = []

    def ready_count(self) -> int:
        return self.ready

    def submit(self, messages: list[Any]) -> None:
        self.submitted.append(list(messages))
        self.ready += len(messages)


class Prestart:
    def __init__(self, seen: set[int] | None = None) -> None:
        self.seen = seen or set()
        self.down = False
        self.batches: list[list[int]] = []

    def __call__(self, messages: list[Any]) -> list[bool]:
        if self.down:
            raise RedisUnavailable("down")
        self.batches.append([m.offset for m in messages])
        return [m.offset in self.seen for m in messages]


def msgs(count: int, partition: int = 0) -> list[SimpleNamespace]:
    return [SimpleNamespace(offset=i, partition=partition, screened_at=0.0)
            for i in range(count)]


def offsets(messages: list[Any]) -> list[int]:
    return [m.offset for m in messages]


def test_without_a_prestart_step_messages_go_straight_to_the_executor():
    executor = Executor()
    feeder = Feeder(executor, None, clock=lambda: 0.0)
    batch = msgs(3)
    feeder.add(batch)
    assert executor.submitted == [batch] and len(feeder) == 0
    assert feeder.feed() == []


def test_the_executor_is_topped_up_to_its_target_and_no_further():
    executor = Executor(concurrency=4, pace_s=1.0, ready=60)   # target: READY_MIN
    prestart = Prestart()
    feeder = Feeder(executor, prestart, clock=lambda: 5.0)
    feeder.add(msgs(100))
    assert executor.submitted == []
    assert feeder.feed() == []
    assert offsets(executor.submitted[0]) == [0, 1, 2, 3]
    assert prestart.batches == [[0, 1, 2, 3]], "one pre-start look for the whole batch"
    assert len(feeder) == 96
    feeder.feed()
    assert len(executor.submitted) == 1, "full: nothing more until handlers take some"
    executor.ready = 0
    feeder.feed()
    assert offsets(executor.submitted[1]) == list(range(4, 4 + READY_MIN))


def test_the_target_keeps_every_slot_busy_for_a_while_up_to_a_bound():
    executor = Executor(concurrency=10, pace_s=FEED_AHEAD_S / 8)
    feeder = Feeder(executor, Prestart(), clock=lambda: 0.0)
    feeder.add(msgs(5000))
    feeder.feed()
    assert len(executor.submitted[0]) == 10 * 8
    slow = Executor(concurrency=40, pace_s=1.0)
    feeder = Feeder(slow, Prestart(), clock=lambda: 0.0)
    feeder.add(msgs(5000))
    feeder.feed()
    assert len(slow.submitted[0]) == READY_PER_SLOT * 40
    one_fast_slot = Executor(concurrency=1, pace_s=1e-6)
    feeder = Feeder(one_fast_slot, Prestart(), clock=lambda: 0.0)
    feeder.add(msgs(5000))
    feeder.feed()
    assert len(one_fast_slot.submitted[0]) == READY_MAX, "a turn of the poll loop's worth"
    big = Executor(concurrency=64, pace_s=1e-6)
    feeder = Feeder(big, Prestart(), clock=lambda: 0.0)
    feeder.add(msgs(5000))
    feeder.feed()
    assert len(big.submitted[0]) == READY_MAX


def test_messages_found_done_are_returned_not_submitted_and_all_are_stamped():
    executor = Executor()
    feeder = Feeder(executor, Prestart(seen={1, 3}), clock=lambda: 42.0)
    batch = msgs(5)
    feeder.add(batch)
    assert offsets(feeder.feed()) == [1, 3]
    assert offsets(executor.submitted[0]) == [0, 2, 4]
    assert [m.screened_at for m in batch] == [42.0] * 5


def test_redis_down_keeps_the_batch_staged_in_order_and_waits_before_asking_again():
    now = [100.0]
    executor, prestart = Executor(), Prestart()
    feeder = Feeder(executor, prestart, clock=lambda: now[0])
    feeder.add(msgs(3))
    prestart.down = True
    assert feeder.feed() == []
    assert feeder.redis_down and executor.submitted == []
    assert offsets(feeder.queued()) == [0, 1, 2]
    prestart.down = False
    now[0] += PRESTART_RETRY_S / 2
    feeder.feed()
    assert prestart.batches == [], "Redis is not asked again at once"
    now[0] += PRESTART_RETRY_S
    feeder.feed()
    assert not feeder.redis_down
    assert offsets(executor.submitted[0]) == [0, 1, 2] and len(feeder) == 0


def test_room_tells_what_feed_would_hand_over_now():
    now = [100.0]
    executor, prestart = Executor(concurrency=4, pace_s=1.0, ready=60), Prestart()
    feeder = Feeder(executor, prestart, clock=lambda: now[0])
    assert feeder.room() == 0, "nothing staged"
    feeder.add(msgs(100))
    assert feeder.room() == READY_MIN - 60
    executor.ready = READY_MIN
    assert feeder.room() == 0, "the executor is full"
    executor.ready = 0
    prestart.down = True
    feeder.feed()
    assert feeder.room() == 0, "waiting before asking Redis again"
    now[0] += PRESTART_RETRY_S
    assert feeder.room() == READY_MIN


def test_drop_returns_staged_messages_keep_rejects():
    feeder = Feeder(Executor(), Prestart(), clock=lambda: 0.0)
    feeder.add(msgs(2, partition=0) + msgs(2, partition=1) + msgs(1, partition=0))
    dropped = feeder.drop(lambda m: m.partition == 0)
    assert [(m.partition, m.offset) for m in dropped] == [(1, 0), (1, 1)]
    assert [(m.partition, m.offset) for m in feeder.queued()] == [(0, 0), (0, 1), (0, 0)]
