"""Watching the demo's consumer: done once every message has an outcome and the lag is 0; a
consumer that exits or never gets there fails the demo with one clear line."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from consumer import demo_watch
from consumer.demo_watch import settled_count, stats_line, watch
from consumer.errors import DemoError, NotFoundError


class FakeMember:
    def __init__(self, scrapes: list[Counter[str] | None], exit_after: int | None = None):
        self._scrapes = scrapes
        self._calls = 0
        self._exit_after = exit_after
        self.log_path = Path("/tmp/consumer.log")

    @property
    def exit_status(self) -> int | None:
        return 1 if self._exit_after is not None and self._calls >= self._exit_after else None

    def counts(self) -> Counter[str] | None:
        self._calls += 1
        return self._scrapes[min(self._calls, len(self._scrapes)) - 1]

    def last_log_line(self) -> str:
        return "ConfigError: no such topic"


class FakeLag:
    def __init__(self, lags: list[int | None]):
        self._lags = lags
        self._calls = 0

    def read(self):
        self._calls += 1
        lag = self._lags[min(self._calls, len(self._lags)) - 1]
        if lag is None:
            raise NotFoundError("consumer group 'orders-demo' not found")
        return [type("Lag", (), {"lag_messages": lag})()]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(demo_watch, "TICK_S", 0)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=80)


def test_retries_do_not_count_as_settled():
    assert settled_count(Counter(processed=5, duplicate=2, dead_lettered=1, retried=9)) == 8


def test_it_waits_for_every_outcome_and_a_lag_of_zero():
    scrapes = [None, Counter(), Counter(processed=3), Counter(processed=9, duplicate=1),
               Counter(processed=9, duplicate=1)]
    member = FakeMember(scrapes)
    settled = watch(member, FakeLag([None, 10, 4, 0]), total=10, description="consuming",
                    console=quiet(), timeout_s=30)
    assert settled.counts == Counter(processed=9, duplicate=1)
    assert settled.lag == 0


def test_a_consumer_that_exits_fails_the_demo_with_its_last_log_line():
    member = FakeMember([None], exit_after=2)
    with pytest.raises(DemoError, match=r"exited with status 1.*ConfigError: no such topic"):
        watch(member, FakeLag([None]), total=10, description="consuming", console=quiet(),
              timeout_s=30)


def test_a_consumer_that_never_settles_fails_the_demo_in_time():
    member = FakeMember([Counter(processed=3)])
    with pytest.raises(DemoError, match=r"not settled after 0s \(3 of 10 messages, lag 7\)"):
        watch(member, FakeLag([7]), total=10, description="consuming", console=quiet(),
              timeout_s=0)


def test_the_stats_line_says_what_is_known():
    assert "starting" in stats_line(None, None).plain
    line = stats_line(Counter(processed=2999, duplicate=90, dead_lettered=4, retried=2), 0).plain
    assert line == "processed 2,999 · duplicates 90 · retries 2 · dead-lettered 4 · lag 0"
    assert stats_line(Counter(), None).plain.endswith("lag …")
