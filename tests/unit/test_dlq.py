"""Dead letters: the headers a letter gets, reading them back, bounds, and the replay record."""

from __future__ import annotations

import socket
import string
import traceback

import pytest
from confluent_kafka import Message
from hypothesis import given
from hypothesis import strategies as st

from consumer import constants as c
from consumer.dlq import (
    ERROR_MESSAGE_LIMIT_BYTES,
    bounded_stacktrace,
    bounded_utf8,
    build_dead_letter,
    parse_dead_letter,
)
from consumer.errors import DecodeError

FIRST_MS = 1795305600000   # 2026-11-22T00:00:00Z
LAST_MS = 1795305723456


def source(headers=None, **overrides) -> Message:
    fields = {"topic": "orders", "partition": 3, "offset": 42, "key": b"customer-7",
              "value": b"\x00\x00\x00\x00\x07avro-bytes",
              "headers": [("message-id", b"m-1"), ("traceparent", b"00-ab-cd-01")]
              if headers is None else headers,
              "timestamp": (1, 1795305500000)}
    return Message(**{**fields, **overrides})


def failure() -> KeyError:
    try:
        {}["sku"]
    except KeyError as exc:
        return exc
    raise AssertionError


def letter_of(record: Message, error: BaseException | None = None, **overrides):
    options = {"error": error or failure(), "category": "handler", "attempts": 5,
               "group": "billing", "message_id": "m-1", "first_failure_ms": FIRST_MS,
               "last_failure_ms": LAST_MS, "schema_id": 7}
    return build_dead_letter(record, **{**options, **overrides})


def as_consumed(letter, partition: int = 0, offset: int = 9) -> Message:
    return Message(topic="orders.dlq", partition=partition, offset=offset, key=letter.key,
                   value=letter.value, headers=letter.headers, timestamp=(1, LAST_MS + 5))


def test_a_letter_keeps_key_value_and_headers_and_adds_every_dlq_header():
    letter = letter_of(source())
    assert letter.key == b"customer-7"
    assert letter.value == b"\x00\x00\x00\x00\x07avro-bytes"
    assert letter.partition == 3
    assert letter.headers[:2] == [("message-id", b"m-1"), ("traceparent", b"00-ab-cd-01")]
    dlq = {name: value.decode() for name, value in letter.headers[2:]}
    trace = dlq.pop(c.DLQ_ERROR_STACKTRACE)
    assert dlq == {
        c.DLQ_ORIGINAL_TOPIC: "orders", c.DLQ_ORIGINAL_PARTITION: "3",
        c.DLQ_ORIGINAL_OFFSET: "42", c.DLQ_ORIGINAL_TIMESTAMP: "1795305500000",
        c.DLQ_CONSUMER_GROUP: "billing", c.DLQ_MESSAGE_ID: "m-1",
        c.DLQ_ERROR_CATEGORY: "handler", c.DLQ_ERROR_CLASS: "builtins.KeyError",
        c.DLQ_ERROR_MESSAGE: "'sku'", c.DLQ_ATTEMPTS: "5",
        c.DLQ_FIRST_FAILURE: "2026-11-22T00:00:00.000Z",
        c.DLQ_LAST_FAILURE: "2026-11-22T00:02:03.456Z",
        c.DLQ_HOST: socket.gethostname(), c.DLQ_SCHEMA_ID: "7",
    }
    assert trace.startswith("Traceback (most recent call last):")
    assert trace.rstrip().endswith("KeyError: 'sku'")


def test_the_error_class_is_fully_qualified():
    letter = letter_of(source(), error=DecodeError("truncated"), category="data")
    assert dict(letter.headers)[c.DLQ_ERROR_CLASS] == b"consumer.errors.DecodeError"


def test_unknown_schema_id_and_timestamp_are_left_out():
    letter = letter_of(source(timestamp=(0, 0)), schema_id=None)
    names = [name for name, _ in letter.headers]
    assert c.DLQ_SCHEMA_ID not in names and c.DLQ_ORIGINAL_TIMESTAMP not in names


def test_old_dlq_headers_are_dropped_but_the_replay_count_is_carried():
    replayed = source(headers=[("message-id", b"m-1"), (c.DLQ_ERROR_CLASS, b"old.Error"),
                               (c.DLQ_ERROR_STACKTRACE, b"x" * 5000),
                               (c.DLQ_REPLAY_COUNT, b"2")])
    letter = letter_of(replayed)
    names = [name for name, _ in letter.headers]
    assert names.count(c.DLQ_ERROR_CLASS) == 1 and names.count(c.DLQ_ERROR_STACKTRACE) == 1
    assert dict(letter.headers)[c.DLQ_ERROR_CLASS] == b"builtins.KeyError"
    assert parse_dead_letter(as_consumed(letter)).replay_count == 2


def test_headers_do_not_grow_over_failure_and_replay_cycles():
    record = source()
    sizes = []
    for cycle in range(5):
        letter = parse_dead_letter(as_consumed(letter_of(record)))
        sizes.append(sum(len(n) + len(v or b"") for n, v in as_consumed(letter_of(record))
                         .headers() or []))
        _, replayed = letter.replay()
        record = source(headers=replayed.headers)
        assert letter.replay_count == cycle
    # The first replay adds the replay count header; then nothing grows.
    assert sizes[1] - sizes[0] == len(c.DLQ_REPLAY_COUNT) + 1
    assert len(set(sizes[1:])) == 1


def test_a_consumed_letter_parses_back_into_its_context():
    letter = parse_dead_letter(as_consumed(letter_of(source()), partition=1, offset=9))
    assert (letter.partition, letter.offset, letter.timestamp_ms) == (1, 9, LAST_MS + 5)
    assert (letter.original_topic, letter.original_partition, letter.original_offset,
            letter.original_timestamp_ms) == ("orders", 3, 42, 1795305500000)
    assert (letter.consumer_group, letter.message_id, letter.category, letter.error_class,
            letter.error_message, letter.attempts) == (
        "billing", "m-1", "handler", "builtins.KeyError", "'sku'", 5)
    assert (letter.first_failure_ms, letter.last_failure_ms) == (FIRST_MS, LAST_MS)
    assert (letter.schema_id, letter.replay_count) == (7, 0)
    assert letter.host == socket.gethostname()
    assert letter.headers == [("message-id", b"m-1"), ("traceparent", b"00-ab-cd-01")]
    assert "KeyError" in (letter.stacktrace or "")


def test_a_record_without_dlq_headers_parses_with_unknown_fields():
    letter = parse_dead_letter(source(headers=[("dlq.attempts", b"many")]))
    assert letter.original_topic is None and letter.attempts is None
    assert letter.failed_at_ms == 1795305500000  # its own timestamp
    assert letter.replay() is None
    assert letter.replay("orders.retry") is not None


def test_replay_strips_dlq_headers_keeps_the_rest_and_counts_the_replay():
    letter = parse_dead_letter(as_consumed(letter_of(source(headers=[
        ("message-id", b"m-1"), (c.DLQ_REPLAY_COUNT, b"1")]))))
    topic, record = letter.replay()
    assert topic == "orders"
    assert (record.key, record.value, record.partition) == (
        b"customer-7", b"\x00\x00\x00\x00\x07avro-bytes", 3)
    assert record.headers == [("message-id", b"m-1"), (c.DLQ_REPLAY_COUNT, b"2")]


def test_replay_elsewhere_lets_the_partitioner_choose():
    letter = parse_dead_letter(as_consumed(letter_of(source())))
    topic, record = letter.replay("orders.retry")
    assert topic == "orders.retry" and record.partition is None


@pytest.mark.parametrize(("name", "matches"), [
    ("builtins.KeyError", True), ("KeyError", True), ("Error", False), ("builtins", False)])
def test_error_class_matches_the_full_name_or_the_class_name(name, matches):
    letter = parse_dead_letter(as_consumed(letter_of(source())))
    assert letter.error_class_is(name) is matches


def test_an_unknown_category_is_a_programming_error():
    with pytest.raises(ValueError, match="category"):
        letter_of(source(), category="oops")


def test_a_long_error_message_is_bounded():
    letter = letter_of(source(), error=ValueError("é" * 5000))
    message = dict(letter.headers)[c.DLQ_ERROR_MESSAGE]
    assert len(message) <= ERROR_MESSAGE_LIMIT_BYTES
    assert message.decode("utf-8") == "é" * (ERROR_MESSAGE_LIMIT_BYTES // 2)


def deep_failure(depth: int) -> ValueError:
    # Two functions in turn: Python folds a run of identical frames into one line.
    def ping(n: int) -> None:
        if n == 0:
            raise ValueError("innermost: the real reason")
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n)

    try:
        ping(depth)
    except ValueError as exc:
        return exc
    raise AssertionError


def test_a_long_stack_trace_keeps_its_innermost_frames_within_8_kb():
    error = deep_failure(400)
    whole = "".join(traceback.format_exception(error))
    trace = bounded_stacktrace(error)
    assert len(whole.encode()) > 8192 >= len(trace.encode())
    note, *kept = trace.splitlines()
    assert note == f"[{len(whole) - len(trace) + len(note) + 1} bytes of outer frames cut]"
    assert whole.endswith("\n" + "\n".join(kept) + "\n")  # cut at a line break
    assert kept[-1] == "ValueError: innermost: the real reason"


def test_a_short_stack_trace_is_kept_whole():
    trace = bounded_stacktrace(deep_failure(2))
    assert trace.startswith("Traceback (most recent call last):")


def test_chained_causes_are_in_the_trace():
    try:
        try:
            raise ConnectionError("db down")
        except ConnectionError as cause:
            raise RuntimeError("charge failed") from cause
    except RuntimeError as exc:
        trace = bounded_stacktrace(exc)
    assert "ConnectionError: db down" in trace and "RuntimeError: charge failed" in trace


@given(st.text(min_size=0, max_size=3000), st.integers(16, 4096))
def test_bounded_text_is_valid_utf8_within_the_limit(text, limit):
    bounded = bounded_utf8(text, limit)
    assert len(bounded.encode("utf-8")) <= limit
    assert text.startswith(bounded)


header_names = st.text(string.ascii_lowercase + "-.", min_size=1, max_size=20).filter(
    lambda name: not name.startswith("dlq."))


@given(key=st.one_of(st.none(), st.binary(max_size=50)),
       value=st.one_of(st.none(), st.binary(max_size=200)),
       headers=st.lists(st.tuples(header_names, st.binary(max_size=30)), max_size=6),
       message=st.text(max_size=300), attempts=st.integers(1, 10**6),
       category=st.sampled_from(c.CATEGORIES), message_id=st.text(min_size=1, max_size=40))
def test_build_then_parse_round_trips(key, value, headers, message, attempts, category,
                                      message_id):
    record = source(headers=headers, key=key, value=value)
    letter = parse_dead_letter(as_consumed(letter_of(
        record, error=RuntimeError(message), attempts=attempts, category=category,
        message_id=message_id)))
    assert (letter.key, letter.value, letter.headers) == (key, value, headers)
    assert (letter.attempts, letter.category, letter.message_id) == (attempts, category,
                                                                     message_id)
    assert letter.error_message == message.encode("utf-8", "replace").decode("utf-8")
    _, replayed = letter.replay()
    assert replayed.headers == [*headers, (c.DLQ_REPLAY_COUNT, b"1")]
