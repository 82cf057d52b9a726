"""Dead letters (CONTRACT.md, "Dead letters"): building one from a record that failed, reading
one back from the dead-letter topic, and the record a replay republishes.

A dead letter is the original record (same key, same value bytes, its headers) plus ``dlq.*``
headers saying where it came from and why it failed. Old ``dlq.*`` headers of a record that was
already dead-lettered and replayed are dropped first, so headers do not pile up over cycles
(Spring Kafka learnt this the hard way); only the replay count is carried over.
"""

from __future__ import annotations

import socket
import traceback
from dataclasses import dataclass
from typing import Protocol

from .constants import (
    CATEGORIES,
    DLQ_ATTEMPTS,
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CATEGORY,
    DLQ_ERROR_CLASS,
    DLQ_ERROR_MESSAGE,
    DLQ_ERROR_STACKTRACE,
    DLQ_FIRST_FAILURE,
    DLQ_HOST,
    DLQ_LAST_FAILURE,
    DLQ_MESSAGE_ID,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TIMESTAMP,
    DLQ_ORIGINAL_TOPIC,
    DLQ_PREFIX,
    DLQ_REPLAY_COUNT,
    DLQ_SCHEMA_ID,
)
from .timestamps import iso_utc_ms, parse_time_ms

# Bounds keep a dead letter near the size of its original record: the innermost frames of a
# trace and the start of a message say what went wrong.
STACKTRACE_LIMIT_BYTES = 8192
ERROR_MESSAGE_LIMIT_BYTES = 2048

Headers = list[tuple[str, bytes | None]]
# What confluent_kafka.Message.headers() may return.
RawHeaders = dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]]

_HOST = socket.gethostname()
_CUT_NOTE_BYTES = 48  # room for "[N bytes of outer frames cut]\n"
_TIMESTAMP_NOT_AVAILABLE = 0  # confluent_kafka.TIMESTAMP_NOT_AVAILABLE


class KafkaRecord(Protocol):
    """What dead letters need of a record; ``confluent_kafka.Message`` has it."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> RawHeaders | None: ...


@dataclass(frozen=True, slots=True)
class ProducerRecord:
    """A record to produce. ``partition`` None leaves the choice to the partitioner (by key)."""

    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int | None = None


def qualified_name(cls: type) -> str:
    """``package.module.Class``, ``builtins.ValueError`` for built-ins: what importlib finds."""
    return f"{cls.__module__}.{cls.__qualname__}"


def bounded_utf8(text: str, limit_bytes: int) -> str:
    """The start of ``text``, at most ``limit_bytes`` of UTF-8, never cut inside a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit_bytes:
        return text
    return data[:limit_bytes].decode("utf-8", "ignore")


def bounded_stacktrace(error: BaseException, limit_bytes: int = STACKTRACE_LIMIT_BYTES) -> str:
    """The trace of ``error`` with its causes, at most ``limit_bytes`` of UTF-8. A longer one
    loses its start, cut at a line break and marked, so the innermost frames and the error
    line stay."""
    text = "".join(traceback.format_exception(error))
    data = text.encode("utf-8", "replace")
    if len(data) <= limit_bytes:
        return text
    tail = data[len(data) - max(0, limit_bytes - _CUT_NOTE_BYTES):]
    line_break = tail.find(b"\n", 0, 512)
    if line_break >= 0:
        tail = tail[line_break + 1:]
    tail_text = tail.decode("utf-8", "ignore")
    return f"[{len(data) - len(tail)} bytes of outer frames cut]\n{tail_text}"


def header_items(raw: RawHeaders | None) -> Headers:
    """Header pairs with bytes values, in order, whatever shape the client returned."""
    pairs = raw.items() if isinstance(raw, dict) else raw or ()
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in pairs]


def _utf8(value: object) -> bytes:
    return str(value).encode("utf-8", "replace")


def build_dead_letter(record: KafkaRecord, *, error: BaseException, category: str,
                      attempts: int, group: str, message_id: str, first_failure_ms: int,
                      last_failure_ms: int, schema_id: int | None = None) -> ProducerRecord:
    """The dead letter of ``record``: produce it to the dead-letter topic. It goes to the
    original partition number when the dead-letter topic has that many (the runtime creates it
    with as many partitions as the source), so per-partition order carries over."""
    if category not in CATEGORIES:
        raise ValueError(f"category {category!r} is not one of {CATEGORIES}")
    headers: Headers = []
    replay_count: bytes | None = None
    for name, value in header_items(record.headers()):
        if name == DLQ_REPLAY_COUNT:
            replay_count = value
        elif not name.startswith(DLQ_PREFIX):
            headers.append((name, value))
    ts_type, ts_ms = record.timestamp()
    headers += [
        (DLQ_ORIGINAL_TOPIC, _utf8(record.topic())),
        (DLQ_ORIGINAL_PARTITION, _utf8(record.partition())),
        (DLQ_ORIGINAL_OFFSET, _utf8(record.offset())),
    ]
    if ts_type != _TIMESTAMP_NOT_AVAILABLE:
        headers.append((DLQ_ORIGINAL_TIMESTAMP, _utf8(ts_ms)))
    headers += [
        (DLQ_CONSUMER_GROUP, _utf8(group)),
        (DLQ_MESSAGE_ID, _utf8(message_id)),
        (DLQ_ERROR_CATEGORY, _utf8(category)),
        (DLQ_ERROR_CLASS, _utf8(qualified_name(type(error)))),
        (DLQ_ERROR_MESSAGE, _utf8(bounded_utf8(str(error), ERROR_MESSAGE_LIMIT_BYTES))),
        (DLQ_ERROR_STACKTRACE, _utf8(bounded_stacktrace(error))),
        (DLQ_ATTEMPTS, _utf8(attempts)),
        (DLQ_FIRST_FAILURE, _utf8(iso_utc_ms(first_failure_ms))),
        (DLQ_LAST_FAILURE, _utf8(iso_utc_ms(last_failure_ms))),
        (DLQ_HOST, _utf8(_HOST)),
    ]
    if schema_id is not None:
        headers.append((DLQ_SCHEMA_ID, _utf8(schema_id)))
    if replay_count is not None:
        headers.append((DLQ_REPLAY_COUNT, replay_count))
    return ProducerRecord(record.key(), record.value(), headers, record.partition())


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A dead letter read back from its topic. ``partition``/``offset``/``timestamp_ms`` are
    its place in the dead-letter topic; ``headers`` are the original (non-``dlq.*``) ones.
    Fields a letter lacks (written by another tool, or damaged) are None."""

    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Headers
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    original_timestamp_ms: int | None
    consumer_group: str | None
    message_id: str | None
    category: str | None
    error_class: str | None
    error_message: str | None
    stacktrace: str | None
    attempts: int | None
    first_failure_ms: int | None
    last_failure_ms: int | None
    host: str | None
    schema_id: int | None
    replay_count: int

    @property
    def failed_at_ms(self) -> int | None:
        """When it last failed; the letter's own timestamp when the header is missing."""
        return self.last_failure_ms if self.last_failure_ms is not None else self.timestamp_ms

    def error_class_is(self, name: str) -> bool:
        """Matches the fully qualified name, or its last part (``ValueError``)."""
        if self.error_class is None:
            return False
        return self.error_class == name or self.error_class.rpartition(".")[2] == name

    def replay(self, to: str | None = None) -> tuple[str, ProducerRecord] | None:
        """The topic and record a replay produces: key, value and original headers, and
        ``dlq.replay.count`` one up. Back to the original partition when going back to the
        original topic. None when there is nowhere to send it (no ``to``, no original topic)."""
        topic = to or self.original_topic
        if not topic:
            return None
        headers = [*self.headers, (DLQ_REPLAY_COUNT, _utf8(self.replay_count + 1))]
        partition = self.original_partition if topic == self.original_topic else None
        return topic, ProducerRecord(self.key, self.value, headers, partition)


def parse_dead_letter(record: KafkaRecord) -> DeadLetterRecord:
    dlq: dict[str, str] = {}
    kept: Headers = []
    for name, value in header_items(record.headers()):
        if name.startswith(DLQ_PREFIX):
            dlq[name] = (value or b"").decode("utf-8", "replace")
        else:
            kept.append((name, value))
    ts_type, ts_ms = record.timestamp()
    return DeadLetterRecord(
        partition=record.partition() or 0, offset=record.offset() or 0,
        timestamp_ms=ts_ms if ts_type != _TIMESTAMP_NOT_AVAILABLE else None,
        key=record.key(), value=record.value(), headers=kept,
        original_topic=dlq.get(DLQ_ORIGINAL_TOPIC) or None,
        original_partition=_int(dlq.get(DLQ_ORIGINAL_PARTITION)),
        original_offset=_int(dlq.get(DLQ_ORIGINAL_OFFSET)),
        original_timestamp_ms=_int(dlq.get(DLQ_ORIGINAL_TIMESTAMP)),
        consumer_group=dlq.get(DLQ_CONSUMER_GROUP), message_id=dlq.get(DLQ_MESSAGE_ID),
        category=dlq.get(DLQ_ERROR_CATEGORY), error_class=dlq.get(DLQ_ERROR_CLASS),
        error_message=dlq.get(DLQ_ERROR_MESSAGE), stacktrace=dlq.get(DLQ_ERROR_STACKTRACE),
        attempts=_int(dlq.get(DLQ_ATTEMPTS)),
        first_failure_ms=_time_ms(dlq.get(DLQ_FIRST_FAILURE)),
        last_failure_ms=_time_ms(dlq.get(DLQ_LAST_FAILURE)),
        host=dlq.get(DLQ_HOST), schema_id=_int(dlq.get(DLQ_SCHEMA_ID)),
        replay_count=_int(dlq.get(DLQ_REPLAY_COUNT)) or 0,
    )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _time_ms(text: str | None) -> int | None:
    try:
        return parse_time_ms(text) if text else None
    except ValueError:
        return None
