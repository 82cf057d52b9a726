"""The filter's log position when a lookup reads the log while this member's own record is
out: reading past the record's entry is no sign of a failover, a log that really went back
is."""

from __future__ import annotations

import logging

import pytest

from consumer.bloom import WindowedBloom
from consumer.dedup_filter import GroupFilter
from consumer.dedup_log import ZERO, pack_keys
from consumer.dedup_settings import DedupSettings
from consumer.redis_keys import GroupKeys

NOW = 1_000.0


@pytest.fixture
def group_filter():
    settings = DedupSettings(group="g", bloom_capacity=1000)
    started = GroupFilter(settings, GroupKeys("g"), clock=lambda: NOW)
    started._bloom = WindowedBloom(1000, settings.bloom_error_rate, settings.retention_s, NOW)
    return started


def read(group_filter, *entries):
    """One read of the log returning ``(ms, member or None for this one, keys)`` entries."""
    own = group_filter.record_log._member
    stream = [(f"{ms}-0".encode(), {b"m": member or own, b"k": pack_keys(keys)})
              for ms, member, keys in entries]
    group_filter.absorb([[[b"log", stream]], None], set(), NOW)


def test_reading_past_an_own_entry_before_its_record_returns_is_no_failover(
        group_filter, caplog):
    group_filter.add_own([7])
    read(group_filter, (5, None, [7]), (6, b"other", [8]))
    group_filter.recorded((5, 0))
    assert group_filter.position == (6, 0)
    assert not caplog.records
    assert group_filter._bloom.might_contain(7) and group_filter._bloom.might_contain(8)


def test_a_log_that_went_back_is_read_again_from_the_start(group_filter, caplog):
    group_filter.add_own([7])
    group_filter.recorded((5, 0))
    read(group_filter, (5, None, [7]), (6, b"other", [8]))   # its own entry, read afterwards
    with caplog.at_level(logging.WARNING, logger="consumer.dedup"):
        group_filter.recorded((5, 0))    # appended again at an id already read: entries lost
    assert group_filter.position == ZERO
    assert "went back" in caplog.text
