"""Breaker settings: resilience4j's defaults, validation, settings from code or TOML."""

from __future__ import annotations

from dataclasses import fields

import pytest

from consumer.breaker_config import BreakerConfig
from consumer.errors import BreakerOpenError, ConfigError, DataError, PermanentError


def test_defaults_are_resilience4js():
    config = BreakerConfig()
    assert (config.failure_rate, config.window, config.min_calls, config.open_s,
            config.half_open_calls, config.slow_call_s) == (0.5, 100, 100, 60.0, 10, None)
    assert config.record == (Exception,)
    assert issubclass(DataError, config.ignore)
    assert PermanentError in config.ignore and BreakerOpenError in config.ignore


def test_every_setting_can_come_from_a_toml_table():
    table = {"failure_rate": 0.2, "window": 30, "min_calls": 5, "open_s": 12,
             "half_open_calls": 3, "slow_call_s": 1.5, "slow_call_rate": 0.8,
             "record": ["builtins.OSError"], "ignore": ["consumer.errors:PermanentError"]}
    config = BreakerConfig().with_settings(table, "[breakers.payments]")
    assert {f.name for f in fields(BreakerConfig)} == set(table)
    assert config == BreakerConfig(0.2, 30, 5, 12.0, 3, 1.5, 0.8, (OSError,), (PermanentError,))


def test_classes_are_accepted_from_code():
    config = BreakerConfig().with_settings({"record": [TimeoutError, ConnectionError]}, "x")
    assert config.record == (TimeoutError, ConnectionError)


@pytest.mark.parametrize(("settings", "message"), [
    ({"failure_rate": 0}, r"failure_rate is a fraction in \(0, 1\]"),
    ({"slow_call_rate": 80}, "did you mean 0.8"),
    ({"window": 0, "min_calls": 0}, "must be at least 1"),
    ({"open_s": -1}, "open_s must be more than 0"),
    ({"slow_call_s": 0}, "slow_call_s must be more than 0"),
    ({"window": True}, "window must be an integer"),
    ({"window": 2.5}, "window must be an integer"),
    ({"open_s": "30s"}, "open_s must be a number"),
    ({"record": 3}, "must be a list of exception classes"),
])
def test_bad_settings_say_what_is_wrong_and_where(settings, message):
    with pytest.raises(ConfigError, match=message) as raised:
        BreakerConfig().with_settings(settings, "[breakers.payments]")
    assert str(raised.value).startswith("[breakers.payments]: ")


def test_a_whole_number_float_from_toml_is_an_integer_setting():
    assert BreakerConfig().with_settings({"window": 20.0, "min_calls": 10}, "x").window == 20
