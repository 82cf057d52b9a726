"""Hostile input for an Avro topic: a fixed catalogue of what breaks consumers (random bytes,
empty and null values, truncated Avro, a wrong magic byte, an unknown schema id, 5 MB values,
invalid UTF-8 in keys and headers, forged ``dlq.*`` headers), hypothesis strategies for valid
orders and arbitrary records, and the oracle saying what must become of any value."""

from __future__ import annotations

import io
import random
import struct
from typing import Any

import fastavro
from confluent_kafka.admin import AdminClient, NewTopic
from hypothesis import strategies as st

from consumer.avro_codec import underlying

from .avro_records import OrderEncoders, garbage
from .orders import order_v2
from .raw_produce import RawRecord
from .streams import Bad, Planned, data_error

BIG_BYTES = 5 * 1024 * 1024
BIG_LIMIT_BYTES = 16 * 1024 * 1024   # what producers, topics and the consumer are allowed
LONGS = st.integers(-(2**63), 2**63 - 1)
# timestamp-millis values Python's datetime can hold (years 1 to 9999): fastavro, and so the
# consumer, cannot read the others, though they are valid Avro (a known bug, kept visible by
# test_hostile_input.py::test_an_order_dated_after_year_9999_is_handled).
DATETIME_MILLIS = st.integers(-62_135_596_800_000, 253_402_300_799_999)


class Oracle:
    """What the Confluent wire format and the writer schema say of a value, worked out with
    fastavro directly: None for a record that must be handled, else the dead letter's cause."""

    def __init__(self, writers: dict[int, Any]) -> None:
        self._writers = {schema_id: fastavro.parse_schema(schema)
                         for schema_id, schema in writers.items()}
        self._underlying = {schema_id: fastavro.parse_schema(underlying(schema))
                            for schema_id, schema in writers.items()}

    def fate(self, value: bytes | None) -> Bad | None:
        if value is None or len(value) <= 5 or value[0] != 0:
            return data_error("FramingError")
        schema_id = struct.unpack_from(">I", value, 1)[0]
        writer = self._writers.get(schema_id)
        if writer is None:
            return data_error("UnknownSchemaError")
        for schema in (writer, self._underlying[schema_id]):
            stream = io.BytesIO(value)
            stream.seek(5)
            try:
                fastavro.schemaless_reader(stream, schema, None)
            except (OverflowError, ValueError):
                continue   # perhaps a logical type Python cannot hold: read the underlying type
            except Exception:
                break
            return None if stream.tell() == len(value) else data_error("DecodeError")
        return data_error("DecodeError")


def planned(key: bytes | None, value: bytes | None, message_id: str, label: str,
            oracle: Oracle, headers: list[tuple[str, bytes | None]] | None = None) -> Planned:
    return Planned(key, value, [("message-id", message_id.encode()), *(headers or [])],
                   message_id, oracle.fate(value), label)


def catalogue(orders: OrderEncoders, oracle: Oracle, rnd: random.Random) -> list[Planned]:
    """One or more of each hostile kind; ids ``x0``, ``x1``, ..."""
    records: list[Planned] = []

    def add(key: bytes | None, value: bytes | None, label: str,
            headers: list[tuple[str, bytes | None]] | None = None) -> None:
        records.append(planned(key, value, f"x{len(records)}", label, oracle, headers))

    for size in (1, 5, 7, 100, 4096):
        add(b"k", garbage(0, rnd, size).value, f"random bytes ({size})")
    add(b"k", b"", "empty value")
    add(b"k", None, "null value (tombstone)")
    add(b"k", b"\x00" + struct.pack(">I", orders.v2.schema_id), "wire header only")
    add(b"k", b"\x00" + struct.pack(">I", orders.v2.schema_id) + rnd.randbytes(4096),
        "valid header, random body")
    for n in range(3):
        add(b"k", orders.truncated(n, rnd).value, "truncated Avro")
        add(b"k", orders.wrong_magic(n).value, "wrong magic byte")
        add(b"k", orders.unknown_schema(n).value, "unknown schema id")
    huge = dict(order_v2(1), coupon_code="c" * BIG_BYTES)
    add(b"big", orders.v2.encode(huge), "5 MB order")
    add(b"big", garbage(0, rnd, BIG_BYTES).value, "5 MB of random bytes")
    add(b"big", orders.v2.encode(order_v2(2)) + rnd.randbytes(BIG_BYTES), "order + 5 MB more")
    good = orders.v2.encode(order_v2(3))
    add(b"\xff\xfe\x00 \xc3\x28", good, "invalid UTF-8 key")
    add(None, good, "null key")
    add(b"", good, "empty key")
    add(b"k", good, "invalid UTF-8 header values",
        [("trace", b"\xff\xfe\xfd"), ("nothing", None), ("", b"\xc3\x28")])
    add(b"k", orders.wrong_magic(9).value, "bad record with invalid UTF-8 headers",
        [("trace", b"\xff\xfe\xfd"), ("nothing", None)])
    add(b"k", orders.wrong_magic(10).value, "bad record with forged dlq.* headers",
        [("dlq.original.offset", b"0"), ("dlq.original.partition", b"99"),
         ("dlq.error.category", b"transient")])
    return records


def colliding_ids(orders: OrderEncoders) -> list[Planned]:
    """Two good records whose message-id headers differ only in bytes that are not UTF-8: two
    messages, not one. Their expected id strings are left open (the contract does not say how
    such bytes read); the scenario checks them by position."""
    value = orders.v2.encode(order_v2(4))
    return [Planned(b"k", value, [("message-id", raw)], None, None, "non-UTF-8 message id")
            for raw in (b"\xffsame-tail", b"\xfesame-tail")]


def unreadable_header_name(orders: OrderEncoders) -> RawRecord:
    """A valid order whose header name is not UTF-8 (for raw_produce.py): the consumer cannot
    read its headers (its message id among them), so it is bad data, not a reason to crash."""
    return (b"k", orders.v2.encode(order_v2(5)),
            [(b"\xff\xfetrace", b"1"), (b"message-id", b"odd-name")])


# -- hypothesis ------------------------------------------------------------------------------
TEXT = st.text(max_size=12)
ORDERS = st.fixed_dictionaries({
    "order_id": TEXT, "customer_id": TEXT,
    "status": st.sampled_from(["UNKNOWN", "PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"]),
    "amount_cents": LONGS, "currency": TEXT, "discount_cents": LONGS,
    "items": st.lists(st.fixed_dictionaries({
        "sku": TEXT, "quantity": st.integers(-(2**31), 2**31 - 1),
        "unit_price_cents": LONGS}), max_size=3),
    "shipping_country": TEXT, "created_at": DATETIME_MILLIS,
    "coupon_code": st.none() | TEXT,
})
KEYS = st.none() | st.binary(max_size=16)
HEADER_NAMES = st.text(max_size=8).filter(lambda n: n != "message-id" and
                                          not n.startswith("dlq."))
HEADERS = st.lists(st.tuples(HEADER_NAMES, st.none() | st.binary(max_size=16)), max_size=3)


def records(orders: OrderEncoders) -> st.SearchStrategy[tuple[str, bytes | None, Any, list]]:
    """(kind, key, value, headers): valid orders, bodies after a valid wire header, and any
    bytes at all."""
    header = b"\x00" + struct.pack(">I", orders.v2.schema_id)
    valid = ORDERS.map(lambda order: ("valid order", orders.v2.encode(order)))
    framed = st.binary(min_size=1, max_size=64).map(lambda body: ("framed bytes",
                                                                  header + body))
    anything = (st.none() | st.binary(max_size=64)).map(lambda value: ("arbitrary", value))
    return st.tuples(st.one_of(valid, framed, anything), KEYS, HEADERS).map(
        lambda t: (t[0][0], t[1], t[0][1], t[2]))


def create_big_record_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """A topic that takes records up to 16 MB (Apache Kafka's default is 1 MB; Tansu has none)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, partitions, 1, config={"max.message.bytes": str(BIG_LIMIT_BYTES)})
    for future in admin.create_topics([new]).values():
        future.result(15)
