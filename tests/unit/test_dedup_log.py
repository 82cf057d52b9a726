"""The record log's encoding: stream ids order like Redis orders them, Bloom keys round-trip,
and a read skips this member's own entries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consumer.dedup_log import (
    ZERO,
    GroupLog,
    format_id,
    pack_keys,
    parse_id,
    unpack_keys,
)
from consumer.redis_keys import GroupKeys


def test_stream_ids_compare_by_time_then_sequence():
    assert parse_id(b"1700000000000-2") < parse_id("1700000000000-10") < parse_id("1700000000001-0")
    assert parse_id(format_id((17, 3))) == (17, 3)
    assert parse_id("0-1") > ZERO


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=600))
def test_bloom_keys_round_trip_eight_bytes_each(keys):
    blob = pack_keys(keys)
    assert len(blob) == 8 * len(keys)
    assert list(unpack_keys(blob)) == keys


def test_a_read_returns_the_other_members_keys_and_where_it_stopped():
    log = GroupLog(GroupKeys("g"), member=b"me", retention_ms=1000, read_count=3)
    streams = [[b"consumer:{g}:dedup:log", [
        (b"10-0", {b"m": b"me", b"k": pack_keys([1, 2])}),
        (b"11-0", {b"m": b"other", b"k": pack_keys([3])}),
        (b"12-4", {b"m": b"third", b"k": pack_keys([4, 5])}),
    ]]]
    tail = log.parse_read([streams, b"9-0"])
    assert tail.keys == [3, 4, 5]
    assert tail.last == (12, 4)
    assert tail.more                      # as many entries as asked for: there may be more
    assert tail.trimmed_below == (9, 0)
    assert tail.own == [(10, 0)]          # its own entries are only noted


def test_an_empty_or_missing_log_reads_as_nothing():
    log = GroupLog(GroupKeys("g"), member=b"me", retention_ms=1000, read_count=3)
    tail = log.parse_read([[], None])
    assert (tail.keys, tail.last, tail.more, tail.trimmed_below, tail.own) == (
        [], None, False, ZERO, [])
