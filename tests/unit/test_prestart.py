"""The pre-start step: dedup's screen, with the crash ledger's record of what starts riding on
the screen's round trip."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from consumer.errors import RedisUnavailable
from consumer.ledger import unpack_offsets
from consumer.prestart import Prestart
from consumer.recovery import Recovery


class Screen:
    """``DuplicateFilter.screen`` over a set; ``also`` gets a list standing for the pipeline."""

    def __init__(self, done: set[str]) -> None:
        self.done = done
        self.down = False
        self.pipelines: list[list[Any]] = []

    def screen(self, messages: list[Any], also: Any = None) -> list[bool]:
        pipe: list[Any] = []
        if also is not None:
            also(pipe)
        if self.down:
            raise RedisUnavailable("down")
        self.pipelines.append(pipe)
        return [m.message_id in self.done for m in messages]


class Ledger:
    def __init__(self) -> None:
        self.alone: list[dict[int, list[int]]] = []     # records in a round trip of their own
        self.down = False

    def starting(self, batches: dict[int, bytes]) -> None:
        if self.down:
            raise RedisUnavailable("down")
        self.alone.append({p: unpack_offsets(b) for p, b in batches.items()})

    def queue_starting(self, pipe: list[Any], batches: dict[int, bytes]) -> None:
        pipe.append({p: unpack_offsets(b) for p, b in batches.items()})


def msgs(*ids: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(message_id=i, partition=0, offset=n, batch=None, attempt=1)
            for n, i in enumerate(ids)]


def prestart(screen: Screen | None, ledger: Ledger | None, keep_going: bool = False) -> Prestart:
    recovery = Recovery(ledger, max_attempts=3) if ledger is not None else None  # type: ignore[arg-type]
    return Prestart(screen, recovery, keep_going_without_redis=keep_going)  # type: ignore[arg-type]


def test_the_batch_goes_on_record_in_the_screens_round_trip_duplicates_included():
    screen, ledger = Screen({"b"}), Ledger()
    batch = msgs("a", "b", "c")
    assert prestart(screen, ledger)(batch) == [False, True, False]
    assert screen.pipelines == [[{0: [0, 1, 2]}]]
    assert ledger.alone == [], "no round trip of its own"
    assert all(m.batch is not None and m.batch.left == 3 for m in batch)


def test_messages_already_on_record_are_not_recorded_twice():
    ledger = Ledger()
    batch = msgs("a", "b")
    batch[0].batch = object()       # on record since an earlier look
    assert prestart(None, ledger)(batch) == [False, False]
    assert ledger.alone == [{0: [1]}]


def test_nothing_new_to_start_asks_nothing_of_the_ledger():
    screen = Screen({"a"})
    batch = msgs("a")
    batch[0].batch = object()
    assert prestart(screen, Ledger())(batch) == [True]
    assert screen.pipelines == [[]]


def test_without_dedup_or_ledger_nothing_is_a_duplicate():
    assert prestart(None, None)(msgs("a", "b")) == [False, False]


def test_redis_down_stops_the_start_unless_told_to_keep_going():
    screen = Screen({"b"})
    screen.down = True
    strict = msgs("a", "b")
    with pytest.raises(RedisUnavailable):
        prestart(screen, Ledger())(strict)
    lenient = msgs("a", "b")
    assert prestart(screen, Ledger(), keep_going=True)(lenient) == [False, False]
    assert all(m.batch is None for m in strict + lenient), "not on record: may not be"


def test_a_ledger_alone_that_cannot_record_stops_the_start_unless_told_to_keep_going():
    ledger = Ledger()
    ledger.down = True
    with pytest.raises(RedisUnavailable):
        prestart(None, ledger)(msgs("a"))
    assert prestart(None, ledger, keep_going=True)(msgs("a")) == [False]
