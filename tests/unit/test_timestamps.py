"""Times as users type them and as dead-letter headers carry them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.timestamps import iso_utc_ms, parse_time_ms, short_age


@pytest.mark.parametrize(("text", "expected"), [
    ("1795305600000", 1795305600000),
    ("2026-11-22T00:00:00Z", 1795305600000),
    ("2026-11-22T00:00:00.250Z", 1795305600250),
    ("2026-11-22T01:00:00+01:00", 1795305600000),
    ("2026-11-22T00:00:00", 1795305600000),   # no zone: UTC
    ("2026-11-22", 1795305600000),
    (" 2026-11-22T00:00:00z ", 1795305600000),
])
def test_parse_accepts_iso_8601_and_epoch_ms(text, expected):
    assert parse_time_ms(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01", "12:00"])
def test_parse_rejects_other_text_naming_it(text):
    with pytest.raises(ValueError, match="neither ISO-8601 nor epoch milliseconds"):
        parse_time_ms(text)


def test_iso_is_utc_with_milliseconds_and_z():
    assert iso_utc_ms(1795305723456) == "2026-11-22T00:02:03.456Z"


@given(st.integers(0, 4_102_444_800_000))
def test_iso_round_trips_to_the_millisecond(epoch_ms):
    assert parse_time_ms(iso_utc_ms(epoch_ms)) == epoch_ms


@pytest.mark.parametrize(("seconds", "shown"), [
    (-3, "0s"), (42.9, "42s"), (312, "5m12s"), (3 * 3600 + 240, "3h04m"),
    (12 * 86400 + 3 * 3600, "12d03h")])
def test_short_age_fits_a_column(seconds, shown):
    assert short_age(seconds) == shown
