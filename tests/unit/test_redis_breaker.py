"""The Redis breaker: consecutive failures open it, open fails fast, a due probe closes it."""

from __future__ import annotations

import pytest
import redis

from consumer.errors import ConfigError, RedisCircuitOpen, RedisUnavailable
from consumer.redis_breaker import BreakerSettings, RedisBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def down() -> None:
    raise redis.ConnectionError("Connection refused")


def make(clock: Clock) -> RedisBreaker:
    return RedisBreaker("redis", BreakerSettings(failure_threshold=3, open_s=2, max_open_s=5),
                        clock)


def fail(breaker: RedisBreaker) -> RedisUnavailable:
    with pytest.raises(RedisUnavailable) as caught:
        breaker.call(down)
    return caught.value


def test_redis_errors_come_out_as_redis_unavailable_with_their_cause():
    error = fail(make(Clock()))
    assert not isinstance(error, RedisCircuitOpen)
    assert isinstance(error.__cause__, redis.ConnectionError)
    assert "Connection refused" in str(error)


def test_stays_closed_until_the_threshold_of_consecutive_failures():
    clock = Clock()
    breaker = make(clock)
    fail(breaker)
    fail(breaker)
    assert breaker.call(lambda: "ok") == "ok"          # a success resets the count
    fail(breaker)
    fail(breaker)
    assert breaker.state == "closed" and breaker.available()
    fail(breaker)
    assert breaker.state == "open"
    assert not breaker.available()
    assert breaker.retry_in_s() == pytest.approx(2)


def test_open_fails_fast_without_calling():
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker)
    calls = []
    with pytest.raises(RedisCircuitOpen) as caught:
        breaker.call(lambda: calls.append(1))
    assert calls == []
    assert caught.value.retry_in_s == pytest.approx(2)
    assert isinstance(caught.value, RedisUnavailable)


def test_a_due_probe_that_succeeds_closes_the_breaker():
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.now += 2
    assert breaker.state == "half-open" and breaker.available()
    assert breaker.call(lambda: 42) == 42
    assert breaker.state == "closed"
    fail(breaker)                                       # the count starts again from zero
    assert breaker.state == "closed"


def test_a_failed_probe_reopens_for_twice_as_long_up_to_the_cap():
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker)
    delays = []
    for _ in range(3):
        clock.now += breaker.retry_in_s()
        fail(breaker)
        delays.append(breaker.retry_in_s())
    assert delays == [4, 5, 5]


def test_only_one_probe_goes_out_while_it_runs():
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.now += 2
    inner: list[BaseException] = []

    def probe() -> str:
        try:
            breaker.call(lambda: "second")
        except RedisCircuitOpen as exc:
            inner.append(exc)
        return "probe"

    assert breaker.call(probe) == "probe"
    assert len(inner) == 1


def test_errors_other_than_redis_pass_through_untouched():
    breaker = make(Clock())
    with pytest.raises(ZeroDivisionError):
        breaker.call(lambda: 1 / 0)
    assert breaker.state == "closed"


@pytest.mark.parametrize("settings", [{"failure_threshold": 0}, {"open_s": 0},
                                      {"open_s": 10, "max_open_s": 5}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ConfigError):
        BreakerSettings(**settings)
