"""Dedup's two checks: copies of an id in flight here wait for the first copy's outcome, and the
store is asked just before handler calls; Redis down stops consumption unless told otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from consumer.duplicates import DuplicateFilter
from consumer.errors import RedisCircuitOpen, RedisUnavailable


@dataclass
class Counters:
    redis_hit: int = 0
    redis_miss: int = 0


class Store:
    """``DedupStore``'s interface over a set; ``down`` makes every call fail as Redis would."""

    def __init__(self, done: set[str] | None = None) -> None:
        self.done = set(done or ())
        self.down = False
        self.counters = Counters()
        self.asked: list[list[str]] = []

    def seen(self, ids: list[str], also: Any = None) -> list[bool]:
        if self.down:
            raise RedisUnavailable("connection refused")
        self.asked.append(ids)
        if also is not None:
            also(self)
        return [i in self.done for i in ids]

    def record(self, ids: list[str]) -> None:
        if self.down:
            raise RedisCircuitOpen("dedup", 1.0)
        self.done.update(ids)


def msg(message_id: str, offset: int = 0) -> SimpleNamespace:
    return SimpleNamespace(message_id=message_id, offset=offset, partition=0)


def test_the_first_copy_of_an_id_goes_on_and_later_copies_wait_behind_it():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    a1, b1, a2, a3 = msg("a", 0), msg("b", 1), msg("a", 2), msg("a", 3)
    assert dups.admit([a1, b1, a2]) == [a1, b1]
    assert dups.admit([a3]) == []


def test_success_of_the_first_copy_turns_the_waiting_copies_into_duplicates():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    a1, a2, a3 = msg("a", 0), msg("a", 1), msg("a", 2)
    dups.admit([a1, a2, a3])
    assert dups.settled(a1, succeeded=True) == [a2, a3]
    later = msg("a", 9)
    assert dups.admit([later]) == [later], "the id is no longer in flight here"


def test_failure_of_the_first_copy_promotes_the_next_copy_in_order():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    a1, a2, a3 = msg("a", 0), msg("a", 1), msg("a", 2)
    dups.admit([a1, a2, a3])
    assert dups.settled(a1, succeeded=False) == [a2]
    assert dups.admit([msg("a", 5)]) == [], "the promoted copy now holds the id"
    assert dups.settled(a2, succeeded=False) == [a3]
    assert dups.settled(a3, succeeded=True)[0].offset == 5


def test_a_settled_id_with_no_copy_waiting_is_forgotten():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    a1 = msg("a")
    dups.admit([a1])
    assert dups.settled(a1, succeeded=False) == []
    a2 = msg("a", 1)
    assert dups.admit([a2]) == [a2]


def test_settled_done_returns_the_copies_behind_a_whole_batch():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    a1, b1, c1, a2, b2, b3 = (msg("a", 0), msg("b", 1), msg("c", 2), msg("a", 3), msg("b", 4),
                              msg("b", 5))
    dups.admit([a1, b1, c1, a2, b2, b3])
    assert dups.settled_done([a1, b1, c1]) == [a2, b2, b3]
    assert dups.admit([msg("b", 6)]) != [], "every id of the batch is free again"


def test_screen_asks_the_store_for_the_whole_batch_at_once():
    store = Store(done={"b"})
    dups = DuplicateFilter(store, keep_going_without_redis=False)
    assert dups.screen([msg("a"), msg("b"), msg("c")]) == [False, True, False]
    assert store.asked == [["a", "b", "c"]]


def test_redis_down_stops_screening_by_default_and_clears_once_it_answers():
    store = Store(done={"a"})
    dups = DuplicateFilter(store, keep_going_without_redis=False)
    store.down = True
    with pytest.raises(RedisUnavailable):
        dups.screen([msg("a")])
    assert dups.redis_down
    store.down = False
    assert dups.screen([msg("a")]) == [True]
    assert not dups.redis_down


def test_the_screen_raises_while_redis_is_down_even_when_told_to_keep_going():
    # the pre-start step decides what keeping going means: it must learn that the commands
    # it queued on the lookup's round trip may not have been applied
    store = Store(done={"a"})
    dups = DuplicateFilter(store, keep_going_without_redis=True)
    store.down = True
    with pytest.raises(RedisUnavailable):
        dups.screen([msg("a"), msg("b")])
    assert dups.redis_down


def test_the_screen_sends_the_callers_commands_with_its_lookup():
    store = Store(done={"a"})
    dups = DuplicateFilter(store, keep_going_without_redis=False)
    queued_on = []
    assert dups.screen([msg("a"), msg("b")], also=queued_on.append) == [True, False]
    assert queued_on == [store]


def test_record_marks_ids_done_or_raises_while_redis_is_down():
    store = Store()
    dups = DuplicateFilter(store, keep_going_without_redis=False)
    dups.record([msg("a"), msg("b")])
    assert store.done == {"a", "b"}
    store.down = True
    with pytest.raises(RedisUnavailable):
        dups.record([msg("c")])
    assert dups.redis_down and "c" not in store.done
    store.down = False
    dups.record([msg("c")])
    assert not dups.redis_down and "c" in store.done


def test_keep_going_without_redis_lets_record_fail_quietly():
    store = Store()
    dups = DuplicateFilter(store, keep_going_without_redis=True)
    store.down = True
    dups.record([msg("a")])
    assert dups.redis_down and store.done == set()


def test_drop_forgets_waiting_copies_keep_rejects_and_keeps_the_others_waiting():
    dups = DuplicateFilter(Store(), keep_going_without_redis=False)
    first = msg("a", 0)
    revoked = SimpleNamespace(message_id="a", offset=1, partition=3)
    kept = msg("a", 2)
    lone = SimpleNamespace(message_id="b", offset=4, partition=3)
    dups.admit([first, revoked, kept, lone])
    assert dups.drop(lambda m: m.partition != 3) == [revoked]
    assert dups.settled(first, succeeded=False) == [kept]


def test_counters_come_from_the_store():
    store = Store()
    store.counters.redis_hit = 3
    assert DuplicateFilter(store, keep_going_without_redis=False).counters == {
        "redis_hit": 3, "redis_miss": 0}
