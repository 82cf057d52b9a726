"""Which letters --category, --error-class, --since and --until select."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consumer.dlq import DeadLetterRecord
from consumer.dlq_filter import LetterFilter

LETTER = DeadLetterRecord(
    partition=0, offset=1, timestamp_ms=5_000, key=None, value=None, headers=[],
    original_topic="orders", original_partition=0, original_offset=7,
    original_timestamp_ms=1_000, consumer_group="billing", message_id="m-1", category="data",
    error_class="consumer.errors.DecodeError", error_message="truncated", stacktrace=None,
    attempts=1, first_failure_ms=2_000, last_failure_ms=3_000, host="h", schema_id=None,
    replay_count=0)


@pytest.mark.parametrize(("select", "matches"), [
    (LetterFilter(), True),
    (LetterFilter(category="data"), True),
    (LetterFilter(category="handler"), False),
    (LetterFilter(error_class="DecodeError"), True),
    (LetterFilter(error_class="consumer.errors.DecodeError"), True),
    (LetterFilter(error_class="ValueError"), False),
    (LetterFilter(since_ms=3_000), True),      # since is inclusive
    (LetterFilter(since_ms=3_001), False),
    (LetterFilter(until_ms=3_000), False),     # until is exclusive
    (LetterFilter(until_ms=3_001), True),
    (LetterFilter(category="data", error_class="DecodeError", since_ms=0, until_ms=9_000), True),
])
def test_filters_select_on_the_dlq_headers(select, matches):
    assert select.matches(LETTER) is matches


def test_time_filters_fall_back_to_the_letters_own_timestamp():
    letter = replace(LETTER, last_failure_ms=None)
    assert LetterFilter(since_ms=4_000).matches(letter)
    assert not LetterFilter(since_ms=6_000).matches(letter)


def test_a_letter_without_any_time_matches_no_time_filter():
    letter = replace(LETTER, last_failure_ms=None, timestamp_ms=None)
    assert not LetterFilter(until_ms=10**13).matches(letter)
    assert LetterFilter().matches(letter)


def test_describe_names_only_the_set_conditions():
    assert LetterFilter().describe() == ""
    assert LetterFilter().selects_all
    assert LetterFilter(category="data", until_ms=5).describe() == "category=data until=5"
    assert not LetterFilter(category="data").selects_all
