"""The pre-start step: dedup's screen, then the crash ledger's record of what starts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from consumer.errors import RedisUnavailable
from consumer.prestart import Prestart


class Screen:
    def __init__(self, done: set[str]) -> None:
        self.done = done
        self.down = False

    def screen(self, messages: list[Any]) -> list[bool]:
        if self.down:
            raise RedisUnavailable("down")
        return [m.message_id in self.done for m in messages]


class Ledger:
    def __init__(self) -> None:
        self.started: list[list[str]] = []
        self.down = False

    def starting(self, messages: list[Any]) -> None:
        if self.down:
            raise RedisUnavailable("down")
        self.started.append([m.message_id for m in messages])


def msgs(*ids: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(message_id=i, batch=None) for i in ids]


def test_duplicates_are_flagged_and_only_the_rest_go_on_record_as_running():
    ledger = Ledger()
    prestart = Prestart(Screen({"b"}), ledger, keep_going_without_redis=False)
    assert prestart(msgs("a", "b", "c")) == [False, True, False]
    assert ledger.started == [["a", "c"]]


def test_messages_already_on_record_are_not_recorded_twice():
    ledger = Ledger()
    batch = msgs("a", "b")
    batch[0].batch = object()       # on record since an earlier look
    prestart = Prestart(None, ledger, keep_going_without_redis=False)
    assert prestart(batch) == [False, False]
    assert ledger.started == [["b"]]


def test_nothing_to_start_asks_nothing_of_the_ledger():
    ledger = Ledger()
    prestart = Prestart(Screen({"a"}), ledger, keep_going_without_redis=False)
    assert prestart(msgs("a")) == [True]
    assert ledger.started == []


def test_without_dedup_or_ledger_nothing_is_a_duplicate():
    assert Prestart(None, None, keep_going_without_redis=False)(msgs("a", "b")) == [False, False]


def test_a_ledger_that_cannot_record_stops_the_start_unless_told_to_keep_going():
    ledger = Ledger()
    ledger.down = True
    strict = Prestart(Screen(set()), ledger, keep_going_without_redis=False)
    with pytest.raises(RedisUnavailable):
        strict(msgs("a"))
    lenient = Prestart(Screen({"b"}), ledger, keep_going_without_redis=True)
    assert lenient(msgs("a", "b")) == [False, True]


def test_a_screen_that_cannot_answer_stops_the_start_before_anything_is_recorded():
    screen, ledger = Screen(set()), Ledger()
    screen.down = True
    prestart = Prestart(screen, ledger, keep_going_without_redis=False)
    with pytest.raises(RedisUnavailable):
        prestart(msgs("a"))
    assert ledger.started == []
