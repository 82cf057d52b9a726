"""Stage 2: turning raw records into ``Message``s: value decoding and validation, identity,
ordering lane. Undecodable records come out as data errors (dead-lettered with context), never
dropped; a registry that does not answer holds the rest of the partition back, in order."""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from .errors import DataError, DecodeError, RegistryUnavailable
from .message import Message

log = logging.getLogger(__name__)

# Message ids that are not UTF-8 read with their odd bytes escaped (\xff), not replaced by
# U+FFFD: two such ids must stay two, or dedup drops the second as a copy of the first.
ID_ERRORS = "backslashreplace"

# Headers are read through calls made from C (map, methodcaller), never ``raw.headers()``:
# when a header name is not UTF-8, confluent-kafka returns a list holding a NULL with an
# exception pending. A call made from C raises that exception; the interpreter's specialised
# call in a hot loop does not, and reading the list then kills the process (SIGSEGV).
read_headers = operator.methodcaller("headers")
UNREADABLE = object()


def headers_of(raws: list[Any]) -> list[Any]:
    """Each record's headers, in order; ``UNREADABLE`` for a record whose headers cannot be
    read (never ask it again: the client would hand back the broken list). The records come
    from one client, so they share one class: its method is called for each, from C."""
    if not raws:
        return []
    found: list[Any] = []
    reader = map(type(raws[0]).headers, raws)
    while True:
        try:
            found.extend(reader)   # keeps what it took before an exception; map goes on after
            return found
        except (SystemError, UnicodeDecodeError):
            found.append(UNREADABLE)


class HeaderlessRecord:
    """Stands in for a record whose headers cannot be read: the rest of it, and no headers
    (asking the client for them again would hand back the broken list)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def headers(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


# (value bytes) -> (decoded value, schema id or None)
ValueDecoder = Callable[[bytes], tuple[Any, int | None]]


def bytes_decoder(value: bytes) -> tuple[Any, int | None]:
    return value, None


def json_decoder(value: bytes) -> tuple[Any, int | None]:
    try:
        return json.loads(value), None
    except (ValueError, TypeError) as exc:  # TypeError: a null (tombstone) value
        raise DecodeError(f"not UTF-8 JSON: {exc}") from None


class Decoder:
    """Builds messages for one topic. ``trackers`` maps partition -> PartitionTracker; every
    record is tracked, whatever becomes of it, so its offset is committed only once settled."""

    def __init__(self, topic: str, value_decoder: ValueDecoder, lane: Callable[[Any, int], Any],
                 id_header: str, id_field: str | None,
                 outside: Callable[[Any], bool] | None = None) -> None:
        self._topic = topic
        self._outside = outside      # backfill: records outside the time range
        self.outside: list[Message] = []       # tracked, not to be handled
        self.ends_reached: list[int] = []      # partitions whose end was reached
        self._value_decoder = value_decoder
        self._lane = lane
        self._id_header = id_header
        self._id_field = id_field
        # partition -> records waiting for the registry, in offset order
        self.held: dict[int, list[Message]] = {}

    def decode(self, raws: list[Any], trackers: dict[int, Any]
               ) -> tuple[list[Message], list[tuple[Message, DataError]]]:
        """The hot loop: everything per record is inlined here, the rare paths are not."""
        good: list[Message] = []
        bad: list[tuple[Message, DataError]] = []
        topic, lane, held, outside = self._topic, self._lane, self.held, self._outside
        decode_value, wanted = self._value_decoder, self._id_header
        for raw, headers in zip(raws, headers_of(raws), strict=True):
            if raw.error() is not None:
                self._broker_event(raw)
                continue
            partition = raw.partition()
            tracker = trackers.get(partition)
            if tracker is None:  # revoked while this batch was in flight: not ours any more
                continue
            key = raw.key()
            message = Message(raw, topic, partition, raw.offset(), key, lane(key, partition),
                              tracker)
            tracker.pending.append(message)
            if outside is not None and outside(raw):
                self.outside.append(message)
                continue
            if headers is UNREADABLE:
                self._headers_unreadable(message, bad)
                continue
            if held and partition in held:
                held[partition].append(message)
                continue
            try:
                message.value, message.schema_id = decode_value(raw.value())
            except (DataError, RegistryUnavailable) as error:
                self._failed(message, error, bad)
                continue
            if headers:
                for name, header_value in headers:
                    if name == wanted and header_value:
                        message.message_id = header_value.decode("utf-8", ID_ERRORS)
                        break
            if not message.message_id:
                message.message_id = self._fallback_identity(message)
            good.append(message)
        return good, bad

    def _broker_event(self, raw: Any) -> None:
        if raw.error().code() == KafkaError._PARTITION_EOF:
            self.ends_reached.append(raw.partition())
        else:
            log.warning("broker error while consuming %s: %s", self._topic, raw.error())

    def _headers_unreadable(self, message: Message,
                            bad: list[tuple[Message, DataError]]) -> None:
        message.raw = HeaderlessRecord(message.raw)
        self._failed(message, DecodeError("its headers cannot be read: a header name is not "
                                          "UTF-8"), bad)

    def _failed(self, message: Message, error: BaseException,
                bad: list[tuple[Message, DataError]]) -> None:
        if isinstance(error, DataError):
            error.raw = message.raw
            message.message_id = self._identity(message)
            bad.append((message, error))
        else:
            log.warning("registry unavailable, %s/%d waits at offset %d: %s", self._topic,
                        message.partition, message.offset, error)
            self.held.setdefault(message.partition, []).append(message)

    def _decode_one(self, message: Message, good: list[Message],
                    bad: list[tuple[Message, DataError]]) -> bool:
        """The loop's steps for one message taken back from ``held``; False when the registry
        still does not answer."""
        try:
            message.value, message.schema_id = self._value_decoder(message.raw.value())
        except (DataError, RegistryUnavailable) as error:
            self._failed(message, error, bad)
            return isinstance(error, DataError)
        message.message_id = self._identity(message)
        good.append(message)
        return True

    def _identity(self, message: Message) -> str:
        for name, header_value in read_headers(message.raw) or ():
            if name == self._id_header and header_value:
                return str(header_value.decode("utf-8", ID_ERRORS))
        return self._fallback_identity(message)

    def _fallback_identity(self, message: Message) -> str:
        """Without the id header: the --id-field of the record, else where it is stored."""
        value = message.value
        if self._id_field is not None and isinstance(value, dict):
            field = value.get(self._id_field)
            if field is not None:
                return str(field)
        return f"{message.topic}/{message.partition}/{message.offset}"

    def retry_held(self) -> tuple[list[Message], list[tuple[Message, DataError]]]:
        """Decodes what waited for the registry, in order, until it fails again."""
        good: list[Message] = []
        bad: list[tuple[Message, DataError]] = []
        for partition in list(self.held):
            waiting = self.held.pop(partition)
            for index, message in enumerate(waiting):
                if not message.tracker.active:
                    break
                if not self._decode_one(message, good, bad):
                    self.held[partition].extend(waiting[index + 1:])
                    break
        return good, bad

    def drop_held(self, keep: Callable[[Message], bool]) -> list[Message]:
        dropped = []
        for partition in list(self.held):
            dropped += [m for m in self.held[partition] if not keep(m)]
            self.held[partition] = [m for m in self.held[partition] if keep(m)]
            if not self.held[partition]:
                del self.held[partition]
        return dropped
