"""Backoff: exponential growth, full jitter, the cap, and the elapsed-time limit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.errors import ConfigError
from consumer.retry import BackoffPolicy

policies = st.builds(
    lambda initial, spread, multiplier: BackoffPolicy(initial_backoff_ms=initial,
                                                      max_backoff_ms=initial * spread,
                                                      multiplier=multiplier),
    st.floats(1, 10_000), st.floats(1, 1000), st.floats(1, 10))
attempts = st.integers(1, 1_000_000)
unit = st.floats(0, 1, exclude_max=True)


def test_ceilings_double_from_the_initial_delay_up_to_the_cap():
    policy = BackoffPolicy(initial_backoff_ms=100, max_backoff_ms=1000, multiplier=2)
    assert [policy.ceiling_ms(n) for n in range(1, 7)] == pytest.approx(
        [100, 200, 400, 800, 1000, 1000])


def test_full_jitter_spans_zero_to_the_ceiling():
    policy = BackoffPolicy(initial_backoff_ms=100, max_backoff_ms=1000)
    assert policy.delay_ms(3, rand=lambda: 0.0) == 0.0
    assert policy.delay_ms(3, rand=lambda: 0.5) == pytest.approx(200)
    assert policy.delay_ms(3, rand=lambda: 0.999) == pytest.approx(399.6)


def test_an_injected_random_source_makes_delays_repeatable():
    policy = BackoffPolicy()
    first = [policy.delay_ms(n, random.Random(7).random) for n in range(1, 20)]
    again = [policy.delay_ms(n, random.Random(7).random) for n in range(1, 20)]
    assert first == again


def test_jitter_spreads_delays_over_the_range():
    policy = BackoffPolicy(initial_backoff_ms=1000, max_backoff_ms=1000)
    rng = random.Random(1)
    delays = [policy.delay_ms(1, rng.random) for _ in range(2000)]
    assert min(delays) < 50 and max(delays) > 950
    assert sum(delays) / len(delays) == pytest.approx(500, rel=0.05)


@given(policies, attempts, unit)
def test_delays_stay_within_zero_and_the_cap(policy, attempt, r):
    delay = policy.delay_ms(attempt, lambda: r)
    assert 0 <= delay <= policy.ceiling_ms(attempt) <= policy.max_backoff_ms * (1 + 1e-9)


@given(policies, attempts)
def test_ceilings_never_shrink(policy, attempt):
    assert policy.ceiling_ms(attempt + 1) >= policy.ceiling_ms(attempt) * (1 - 1e-9)


def test_endless_retries_neither_overflow_nor_exceed_the_cap():
    policy = BackoffPolicy(initial_backoff_ms=1, max_backoff_ms=60_000, multiplier=10)
    assert policy.ceiling_ms(10**9) == 60_000


def test_a_multiplier_of_one_is_a_constant_ceiling():
    policy = BackoffPolicy(initial_backoff_ms=250, max_backoff_ms=1000, multiplier=1)
    assert {policy.ceiling_ms(n) for n in (1, 2, 50)} == {250}


def test_without_max_elapsed_transient_retries_go_on():
    policy = BackoffPolicy()
    assert policy.next_delay_s(10_000, elapsed_s=10**7, rand=lambda: 0.5) == pytest.approx(15)


def test_max_elapsed_gives_up_once_spent_and_cuts_the_last_wait_short():
    policy = BackoffPolicy(initial_backoff_ms=10_000, max_backoff_ms=10_000, max_elapsed_s=60)
    assert policy.next_delay_s(3, elapsed_s=20, rand=lambda: 0.5) == pytest.approx(5)
    assert policy.next_delay_s(3, elapsed_s=58, rand=lambda: 0.5) == pytest.approx(2)
    assert policy.next_delay_s(3, elapsed_s=60, rand=lambda: 0.5) is None


def test_delay_s_is_delay_ms_in_seconds():
    policy = BackoffPolicy(initial_backoff_ms=400, max_backoff_ms=400)
    assert 0 <= policy.delay_s(1) < 0.4


def test_attempts_count_from_one():
    with pytest.raises(ValueError, match="count from 1"):
        BackoffPolicy().ceiling_ms(0)


@pytest.mark.parametrize(("settings", "message"), [
    ({"initial_backoff_ms": 0}, "initial_backoff_ms must be more than 0"),
    ({"initial_backoff_ms": 500, "max_backoff_ms": 100}, "must be at least initial"),
    ({"multiplier": 0.5}, "multiplier must be at least 1"),
    ({"max_elapsed_s": 0}, "max_elapsed_s must be more than 0"),
])
def test_bad_policies_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        BackoffPolicy(**settings)
