"""The registry of named breakers: what handlers and the runtime see."""

from __future__ import annotations

import uuid

import pytest

import consumer
from consumer.breaker import BREAKERS, BreakerRegistry, BreakerState
from consumer.errors import BreakerOpenError, ConfigError, TransientError


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def trip(registry: BreakerRegistry, name: str) -> None:
    cb = registry(name)
    while cb.state is BreakerState.CLOSED:
        with pytest.raises(TransientError), cb:
            raise TransientError("down")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> BreakerRegistry:
    return BreakerRegistry(clock=clock)


def test_handlers_reach_the_process_wide_registry_from_the_package():
    name = f"payments-{uuid.uuid4().hex[:6]}"
    guarded = consumer.breaker(name, window=20, min_calls=10, open_s=30)
    assert consumer.breaker(name) is guarded
    assert BREAKERS.states()[name] is BreakerState.CLOSED
    with consumer.breaker(name):
        pass


def test_code_settings_apply_when_a_breaker_is_first_named(registry):
    cb = registry("payments", failure_rate=0.25, window=8, min_calls=4, open_s=5)
    assert (cb.config.failure_rate, cb.config.window, cb.config.min_calls,
            cb.config.open_s) == (0.25, 8, 4, 5.0)
    assert registry("payments", failure_rate=0.25, window=8, min_calls=4, open_s=5) is cb


def test_naming_a_breaker_again_with_other_settings_is_an_error(registry):
    registry("payments", window=8, min_calls=4)
    with pytest.raises(ConfigError, match="payments"):
        registry("payments", window=9, min_calls=4)


def test_settings_given_after_a_bare_first_use_are_adopted(registry):
    registry("payments")
    assert registry("payments", window=8, min_calls=4).config.window == 8


def test_the_toml_table_overrides_what_the_code_says(registry):
    registry.configure({"payments": {"open_s": 120, "record": ["builtins.TimeoutError"]}})
    cb = registry("payments", window=8, min_calls=4, open_s=5)
    assert cb.config.open_s == 120.0
    assert cb.config.window == 8
    assert cb.config.record == (TimeoutError,)


def test_configure_retunes_existing_breakers(registry):
    cb = registry("payments", window=8, min_calls=4)
    trip(registry, "payments")
    registry.configure({"payments": {"open_s": 7}})
    assert cb.config.open_s == 7.0
    assert cb.state is BreakerState.CLOSED


@pytest.mark.parametrize(("table", "message"), [
    ({"payments": {"windw": 3}}, "unknown setting 'windw'"),
    ({"payments": {"failure_rate": 50}}, "did you mean 0.5"),
    ({"payments": {"window": "ten"}}, "window must be an integer"),
    ({"payments": {"min_calls": 20, "window": 10}}, "cannot exceed window"),
    ({"payments": {"ignore": ["nowhere.Nothing"]}}, "cannot import exception class"),
    ({"payments": {"record": ["builtins.len"]}}, "is not an exception class"),
    ({"payments": 3}, "must be a table"),
])
def test_bad_tables_are_rejected_naming_the_table(registry, table, message):
    with pytest.raises(ConfigError, match=message) as raised:
        registry.configure(table)
    assert "[breakers.payments]" in str(raised.value)


def test_open_until_says_when_the_earliest_open_breaker_probes(registry, clock):
    assert registry.open_until() is None
    registry("payments", window=4, min_calls=4, open_s=30)
    registry("stock", window=4, min_calls=4, open_s=10)
    registry("mail", window=4, min_calls=4)
    trip(registry, "payments")
    clock.now += 5
    trip(registry, "stock")
    assert registry.open_until() == pytest.approx(65.0)  # stock: 55 + 10; payments: 80
    clock.now += 10
    assert registry.open_until() == pytest.approx(80.0)
    assert registry.states() == {"payments": BreakerState.OPEN,
                                 "stock": BreakerState.HALF_OPEN,
                                 "mail": BreakerState.CLOSED}
    clock.now += 15
    assert registry.open_until() is None


def test_listeners_hear_every_transition_in_order(registry, clock):
    heard: list[tuple[str, BreakerState, BreakerState]] = []
    registry.add_listener(lambda name, old, new: heard.append((name, old, new)))
    registry("payments", window=4, min_calls=4, open_s=30, half_open_calls=1)
    trip(registry, "payments")
    clock.now += 30
    with registry("payments"):
        pass
    assert heard == [("payments", BreakerState.CLOSED, BreakerState.OPEN),
                     ("payments", BreakerState.OPEN, BreakerState.HALF_OPEN),
                     ("payments", BreakerState.HALF_OPEN, BreakerState.CLOSED)]


def test_a_failing_listener_does_not_break_the_call(registry, caplog):
    def broken(name, old, new):
        raise RuntimeError("gauge down")

    heard = []
    registry.add_listener(broken)
    registry.add_listener(lambda *change: heard.append(change))
    registry("payments", window=4, min_calls=4)
    trip(registry, "payments")
    assert len(heard) == 1
    assert "listener" in caplog.text
    registry.remove_listener(broken)
    with pytest.raises(BreakerOpenError):
        registry("payments").acquire()
