"""Stage 2: raw records to messages. Every record is tracked whatever becomes of it; bad data
comes out as data errors carrying the record; a silent registry holds the rest of its
partition back, in order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import KafkaError

from consumer.decode import Decoder, bytes_decoder, json_decoder
from consumer.dispatch import lane_of
from consumer.errors import DecodeError, RegistryUnavailable, UnknownSchemaError
from consumer.offsets import PartitionTracker

TOPIC = "orders"


class Raw:
    """What confluent-kafka's consume() hands out, as far as the decoder reads it."""

    def __init__(self, partition: int, offset: int, value: bytes | None = b"{}",
                 key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None,
                 timestamp_ms: int = 1_000, error: KafkaError | None = None) -> None:
        self._partition, self._offset, self._value = partition, offset, value
        self._key, self._headers, self._timestamp, self._error = key, headers, timestamp_ms, error

    def error(self) -> KafkaError | None:
        return self._error

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)


class Registry:
    """A value decoder over JSON whose registry can be taken down; values ``bad`` fail to
    decode. Counts its calls, so a test can see what was not decoded."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def __call__(self, value: bytes) -> tuple[Any, int | None]:
        self.calls += 1
        if self.down:
            raise RegistryUnavailable("registry: connection refused")
        if value == b"bad":
            raise UnknownSchemaError("schema 99 not found")
        return json.loads(value), 7


def trackers(*partitions: int) -> dict[int, PartitionTracker]:
    return {p: PartitionTracker(TOPIC, p) for p in partitions}


def decoder(value_decoder: Any = json_decoder, id_field: str | None = None,
            id_header: str = "message-id", outside: Any = None) -> Decoder:
    return Decoder(TOPIC, value_decoder, lane_of("key"), id_header, id_field, outside)


def offsets(messages: list[Any]) -> list[tuple[int, int]]:
    return [(m.partition, m.offset) for m in messages]


def test_identity_is_the_header_then_the_id_field_then_where_the_record_is():
    raws = [Raw(0, 0, b'{"order_id": "o-1"}', headers=[("message-id", b"m-1")]),
            Raw(0, 1, b'{"order_id": "o-2"}', headers=[("other", b"x")]),
            Raw(0, 2, b'{"amount": 3}'),
            Raw(0, 3, b'{"order_id": "o-4"}', headers=[("message-id", b"")]),
            Raw(0, 4, b'{"order_id": 12}')]
    good, bad = decoder(id_field="order_id").decode(raws, trackers(0))
    assert bad == []
    assert [m.message_id for m in good] == ["m-1", "o-2", "orders/0/2", "o-4", "12"]


def test_without_an_id_field_the_identity_is_topic_partition_offset():
    good, _ = decoder().decode([Raw(3, 41, b'{"order_id": "o-1"}')], trackers(3))
    assert good[0].message_id == "orders/3/41"


def test_a_custom_id_header_replaces_the_default_one():
    raw = Raw(0, 0, headers=[("message-id", b"default"), ("x-request-id", b"custom")])
    good, _ = decoder(id_header="x-request-id").decode([raw], trackers(0))
    assert good[0].message_id == "custom"


def test_an_id_field_is_not_looked_for_in_values_that_are_not_records():
    good, _ = Decoder(TOPIC, bytes_decoder, lane_of("key"), "message-id", "id").decode(
        [Raw(0, 5, b"raw bytes")], trackers(0))
    assert good[0].value == b"raw bytes" and good[0].message_id == "orders/0/5"


def test_messages_carry_value_schema_id_key_and_lane():
    good, _ = decoder(Registry()).decode(
        [Raw(0, 0, b'{"n": 1}', key=b"customer-9"), Raw(1, 0, b'{"n": 2}')], trackers(0, 1))
    assert [(m.value, m.schema_id, m.key) for m in good] == [
        ({"n": 1}, 7, b"customer-9"), ({"n": 2}, 7, None)]
    assert good[0].lane == b"customer-9"
    assert good[1].lane == 1, "a keyless record keeps its partition's order"
    assert (good[0].topic, good[0].tracker.partition) == (TOPIC, 0)


def test_bad_data_comes_out_as_a_data_error_carrying_the_record_and_its_identity():
    raw = Raw(0, 1, b"not json", headers=[("message-id", b"m-2")])
    good, bad = decoder().decode([Raw(0, 0), raw, Raw(0, 2)], trackers(0))
    assert offsets(good) == [(0, 0), (0, 2)]
    [(message, error)] = bad
    assert isinstance(error, DecodeError) and error.raw is raw
    assert message.raw is raw and message.message_id == "m-2"
    assert error.reason == "decode"


def test_every_record_is_tracked_in_order_good_bad_held_or_outside():
    registry = Registry()
    raws = [Raw(0, 0), Raw(0, 1, b"bad"), Raw(0, 2, timestamp_ms=1), Raw(0, 3)]
    dec = Decoder(TOPIC, registry, lane_of("key"), "message-id", None,
                  outside=lambda raw: raw.timestamp()[1] < 10)
    tracked = trackers(0)
    dec.decode(raws[:3], tracked)
    registry.down = True
    dec.decode(raws[3:], tracked)
    assert [m.offset for m in tracked[0].pending] == [0, 1, 2, 3]


def test_a_silent_registry_holds_the_rest_of_its_partition_in_order():
    registry = Registry()
    dec, tracked = decoder(registry), trackers(0, 1)

    def record(partition: int, offset: int) -> Raw:
        return Raw(partition, offset, json.dumps({"p": partition, "o": offset}).encode())

    good, _ = dec.decode([record(0, 0), record(1, 0)], tracked)
    assert offsets(good) == [(0, 0), (1, 0)]
    registry.down = True
    good, bad = dec.decode([record(0, 1), record(0, 2)], tracked)
    assert (good, bad) == ([], [])
    registry.down = False
    calls = registry.calls
    good, bad = dec.decode([record(0, 3), record(1, 1), record(0, 4)], tracked)
    assert offsets(good) == [(1, 1)], "another partition goes on"
    assert registry.calls == calls + 1, "a held partition's later records wait undecoded"
    assert [m.offset for m in dec.held[0]] == [1, 2, 3, 4]


def test_retry_held_resumes_in_order_and_stops_again_where_the_registry_fails():
    registry = Registry()
    dec, tracked = decoder(registry), trackers(0)
    registry.down = True
    raws = [Raw(0, o, b"bad" if o == 2 else b'{"o": %d}' % o,
                headers=[("message-id", b"m-%d" % o)]) for o in range(4)]
    dec.decode(raws, tracked)
    assert dec.retry_held() == ([], [])
    assert [m.offset for m in dec.held[0]] == [0, 1, 2, 3], "still waiting, still in order"
    registry.down = False
    good, bad = dec.retry_held()
    assert [m.offset for m in good] == [0, 1, 3]
    assert [m.message_id for m in good] == ["m-0", "m-1", "m-3"]
    assert [(m.offset, m.message_id, type(e)) for m, e in bad] == [
        (2, "m-2", UnknownSchemaError)]
    assert dec.held == {}


def test_retry_held_stops_at_the_first_record_the_registry_fails_again():
    calls = {"n": 0}

    def flaky(value: bytes) -> tuple[Any, int | None]:
        calls["n"] += 1
        if calls["n"] in (1, 3):
            raise RegistryUnavailable("timeout")
        return json.loads(value), 1

    dec, tracked = decoder(flaky), trackers(0)
    dec.decode([Raw(0, o) for o in range(4)], tracked)   # call 1 fails: all four held
    good, _ = dec.retry_held()                            # call 2 decodes 0, call 3 fails
    assert [m.offset for m in good] == [0]
    assert [m.offset for m in dec.held[0]] == [1, 2, 3]
    good, _ = dec.retry_held()
    assert [m.offset for m in good] == [1, 2, 3] and dec.held == {}


def test_held_records_of_a_revoked_partition_are_not_decoded_again():
    registry = Registry()
    dec, tracked = decoder(registry), trackers(0)
    registry.down = True
    dec.decode([Raw(0, 0), Raw(0, 1)], tracked)
    tracked[0].active = False
    registry.down = False
    assert dec.retry_held() == ([], []) and dec.held == {}


def test_drop_held_returns_what_keep_rejects_and_keeps_the_rest_waiting():
    registry = Registry()
    dec = decoder(registry)
    registry.down = True
    dec.decode([Raw(0, 0), Raw(1, 0), Raw(1, 1)], trackers(0, 1))
    dropped = dec.drop_held(lambda m: m.partition == 0)
    assert offsets(dropped) == [(1, 0), (1, 1)]
    assert list(dec.held) == [0]


def test_records_of_a_partition_no_longer_assigned_are_skipped_untracked():
    tracked = trackers(0)
    good, bad = decoder().decode([Raw(5, 0), Raw(0, 0)], tracked)
    assert offsets(good) == [(0, 0)] and bad == []
    assert len(tracked[0]) == 1


def test_records_outside_a_backfill_range_are_tracked_but_not_decoded():
    registry = Registry()
    dec = Decoder(TOPIC, registry, lane_of("key"), "message-id", None,
                  outside=lambda raw: raw.timestamp()[1] > 500)
    tracked = trackers(0)
    good, _ = dec.decode([Raw(0, 0, timestamp_ms=100), Raw(0, 1, b"bad", timestamp_ms=900)],
                         tracked)
    assert offsets(good) == [(0, 0)]
    assert offsets(dec.outside) == [(0, 1)]
    assert registry.calls == 1, "an outside record is read past, bad bytes or not"
    assert len(tracked[0]) == 2


def test_partition_ends_are_reported_and_other_broker_errors_are_only_logged(caplog):
    eof = Raw(2, 10, error=KafkaError(KafkaError._PARTITION_EOF))
    other = Raw(1, -1, error=KafkaError(KafkaError._TRANSPORT))
    dec, tracked = decoder(), trackers(1, 2)
    good, bad = dec.decode([eof, other, Raw(1, 0)], tracked)
    assert offsets(good) == [(1, 0)] and bad == []
    assert dec.ends_reached == [2]
    assert [len(t) for t in tracked.values()] == [1, 0]
    assert "broker error while consuming orders" in caplog.text


def test_json_decoder_decodes_utf8_json_and_refuses_the_rest():
    assert json_decoder('{"total": "9.50", "name": "Zoë"}'.encode()) == (
        {"total": "9.50", "name": "Zoë"}, None)
    for bad in (b"{oops", b"\xff\xfe", None):
        with pytest.raises(DecodeError, match="not UTF-8 JSON"):
            json_decoder(bad)  # type: ignore[arg-type]


def test_bytes_decoder_hands_the_bytes_over_untouched():
    assert bytes_decoder(b"\x00\x01raw") == (b"\x00\x01raw", None)


def test_ids_that_are_not_utf8_stay_distinct():
    raws = [Raw(0, 0, headers=[("message-id", b"\xffsame")]),
            Raw(0, 1, headers=[("message-id", b"\xfesame")])]
    good, _ = decoder().decode(raws, trackers(0))
    assert len({m.message_id for m in good}) == 2


class ClientRecord(Raw):
    """confluent-kafka when a header name is not UTF-8 (``odd``): the first call raises, and
    any later call hands back a list holding NULL (which kills the process when read)."""

    def __init__(self, partition: int, offset: int, odd: bool = False) -> None:
        super().__init__(partition, offset)
        self.odd, self.asked = odd, 0

    def headers(self) -> list[tuple[str, bytes]] | None:
        self.asked += 1
        if not self.odd:
            return None
        if self.asked > 1:
            raise AssertionError("headers asked for again")
        raise SystemError("<method 'headers'> returned a result with an exception set")


def test_a_record_whose_headers_cannot_be_read_is_bad_data_without_headers():
    odd = ClientRecord(0, 1, odd=True)
    good, bad = decoder().decode([ClientRecord(0, 0), odd, ClientRecord(0, 2)], trackers(0))
    assert offsets(good) == [(0, 0), (0, 2)]
    [(message, error)] = bad
    assert isinstance(error, DecodeError) and "header name" in str(error)
    assert message.raw.headers() is None and message.raw.offset() == 1
    assert message.message_id == f"{TOPIC}/0/1"
    assert odd.asked == 1
