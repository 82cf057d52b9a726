"""Both readers, the C one and the generated Python one, against fastavro, the reader they
stand in for: the same records from the same bytes, and corrupt or cut bytes never read as a
record. Every test taking ``compile_reader`` runs once with each."""

import functools
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import avro_reader
from consumer.avro_reader import EXACT_FLOAT_MS
from consumer.errors import DecodeError

ORDERS = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "orders-v1.avsc")
                    .read_text())

INNER = {"type": "record", "name": "Inner", "fields": [
    {"name": "id", "type": "long"}, {"name": "tags", "type": {"type": "array", "items": "string"}}]}

EVERY_TYPE = {"type": "record", "name": "Every", "namespace": "t", "fields": [
    {"name": "nothing", "type": "null"},
    {"name": "flag", "type": "boolean"},
    {"name": "small", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "single", "type": "float"},
    {"name": "double", "type": "double"},
    {"name": "blob", "type": "bytes"},
    {"name": "text", "type": "string"},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
    {"name": "four", "type": {"type": "fixed", "name": "Four", "size": 4}},
    {"name": "longs", "type": {"type": "array", "items": "long"}},
    {"name": "labels", "type": {"type": "map", "values": "string"}},
    {"name": "maybe", "type": ["null", "string"]},
    {"name": "maybe_last", "type": ["string", "null"]},
    {"name": "inner", "type": INNER},
    {"name": "inner_again", "type": "t.Inner"},
    {"name": "choice", "type": ["long", "string", "t.Inner"]},
    {"name": "inners", "type": {"type": "array", "items": "t.Inner"}},
    {"name": "grid", "type": {"type": "map", "values": {"type": "array", "items": "int"}}},
    {"name": "colours", "type": {"type": "array", "items": "t.Colour"}},
    {"name": "fours", "type": {"type": "map", "values": "t.Four"}},
]}

LOGICAL = {"type": "record", "name": "Logical", "fields": [
    {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "local_ms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "local_us", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "t_us", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12,
                               "scale": 2}},
    {"name": "rate", "type": {"type": "fixed", "name": "Rate", "size": 8,
                              "logicalType": "decimal", "precision": 10, "scale": 4}},
    {"name": "unknown", "type": {"type": "long", "logicalType": "not-a-logical-type"}},
    {"name": "when", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
]}

@pytest.fixture(scope="module", params=[True, False], ids=["c", "python"])
def compile_reader(request):
    return functools.partial(avro_reader.compile_reader, native=request.param)


MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)   # years 1 to 9999


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values fastavro's writer takes for ``schema`` (logical types as their underlying values,
    in the range Python's types hold, or as the Python values fastavro expects)."""
    if isinstance(schema, list):
        return st.one_of([values(branch, named) for branch in schema])
    if isinstance(schema, str):
        short = schema.rsplit(".", 1)[-1]   # the test schemas' names are unique without it
        if short in named:
            return values(named[short], named)
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if logical in ("timestamp-millis", "local-timestamp-millis"):
        return st.integers(*MS_RANGE)
    if logical in ("timestamp-micros", "local-timestamp-micros"):
        return st.integers(MS_RANGE[0] * 1000, MS_RANGE[1] * 1000)
    if logical == "date":
        return st.integers(-719_162, 2_932_896)
    if logical == "time-millis":
        return st.integers(0, 86_399_999)
    if logical == "time-micros":
        return st.integers(0, 86_399_999_999)
    if logical == "uuid":
        return st.uuids().map(str)
    if logical == "decimal":
        return st.decimals(places=schema["scale"], min_value=Decimal(-10**5),
                           max_value=Decimal(10**5), allow_nan=False, allow_infinity=False)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
        "long": st.integers(-2**63, 2**63 - 1), "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False), "bytes": st.binary(max_size=12),
        "string": st.text(max_size=12)}
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        named[schema["name"]] = schema
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=4), values(schema["values"], named), max_size=3)
    named[schema["name"]] = schema
    fields = {}
    for field in schema["fields"]:
        fields[field["name"]] = values(field["type"], named)
    return st.fixed_dictionaries(fields)


def encoded(parsed: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def by_fastavro(parsed: Any, buf: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(buf), parsed, None)


@pytest.mark.parametrize("schema", [EVERY_TYPE, LOGICAL, ORDERS], ids=["every", "logical",
                                                                          "orders"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reads_what_fastavro_reads(schema, data, compile_reader):
    parsed = fastavro.parse_schema(schema)
    read = compile_reader(parsed)
    assert read is not None
    record = data.draw(values(schema, {}))
    buf = b"\x00\x00\x00\x00\x07" + encoded(parsed, record)
    assert read(buf, 5) == (by_fastavro(parsed, buf[5:]), len(buf))


@pytest.mark.parametrize("schema", [EVERY_TYPE, ORDERS], ids=["every", "orders"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_cut_value_never_reads(schema, data, compile_reader):
    parsed = fastavro.parse_schema(schema)
    read = compile_reader(parsed)
    buf = encoded(parsed, data.draw(values(schema, {})))
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(Exception):  # noqa: B017 - past the end fails in several ways
        read(buf[:cut], 0)


@pytest.mark.parametrize("schema", [EVERY_TYPE, LOGICAL, ORDERS], ids=["every", "logical",
                                                                          "orders"])
@settings(max_examples=300, deadline=None)
@given(buf=st.binary(max_size=80))
def test_random_bytes_read_only_as_fastavro_reads_them(schema, buf, compile_reader):
    parsed = fastavro.parse_schema(schema)
    try:
        record, end = compile_reader(parsed)(buf, 0)
    except Exception:
        return
    if end == len(buf):
        assert record == by_fastavro(parsed, buf)


def test_timestamps_beyond_python_raise_overflow_for_the_caller_to_read_them_as_ints(
        compile_reader):
    parsed = fastavro.parse_schema(LOGICAL["fields"][0]["type"])
    with pytest.raises(OverflowError):
        compile_reader(parsed)(encoded(parsed, MS_RANGE[1] + 1), 0)


@pytest.mark.parametrize("ms", [-EXACT_FLOAT_MS - 1, -EXACT_FLOAT_MS + 1, -1, 0, 1, 999,
                                EXACT_FLOAT_MS - 1, EXACT_FLOAT_MS, MS_RANGE[1]])
def test_timestamps_read_to_the_millisecond_on_both_sides_of_the_float_shortcut(
        ms, compile_reader):
    parsed = fastavro.parse_schema(LOGICAL["fields"][0]["type"])
    buf = encoded(parsed, ms)
    assert compile_reader(parsed)(buf, 0) == (by_fastavro(parsed, buf), len(buf))


@pytest.mark.parametrize("bits", range(0, 64, 7))
def test_longs_of_every_varint_length_read_as_fastavro_reads_them(bits, compile_reader):
    parsed = fastavro.parse_schema("long")
    for value in (2**bits - 1, 2**bits, -(2**bits), -(2**bits) - 1):
        value = max(-(2**63), min(value, 2**63 - 1))
        buf = encoded(parsed, value)
        assert compile_reader(parsed)(buf, 0) == (value, len(buf))


@pytest.mark.parametrize("schema, buf, why", [
    ("long", b"\xff" * 10 + b"\x01", "a varint longer than 10 bytes"),
    ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, b"\x01", "enum index -1"),
    (["null", "long"], b"\x07", "union index -4"),
    ("string", b"\x03abc", "a length of -2"),
    ({"type": "array", "items": "long"}, b"\xd0\x0f\x02", "a block of 1000 items"),
])
def test_corrupt_bytes_say_what_is_wrong(schema, buf, why, compile_reader):
    with pytest.raises(DecodeError, match=why):
        compile_reader(fastavro.parse_schema(schema))(buf, 0)


@pytest.mark.parametrize("schema", [
    {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "long"}, {"name": "next", "type": ["null", "Node"]}]},
    {"type": "array", "items": "null"},
    {"type": "map", "values": {"type": "record", "name": "Empty", "fields": []}},
], ids=["recursive", "array-of-null", "map-of-empty-records"])
def test_leaves_to_fastavro_what_it_cannot_check(schema, compile_reader):
    assert compile_reader(fastavro.parse_schema(schema)) is None


def test_a_uuid_reads_as_fastavro_gives_it(compile_reader):
    parsed = fastavro.parse_schema({"type": "string", "logicalType": "uuid"})
    value = uuid.uuid4()
    assert compile_reader(parsed)(encoded(parsed, str(value)), 0)[0] == value


def test_the_c_reader_is_built():
    # the install compiles it where a C compiler is found, as on CI; without one the Python
    # reader serves and this fails, so a broken build cannot pass unnoticed
    assert avro_reader.NATIVE


def test_the_c_reader_reads_any_buffer_from_any_position():
    parsed = fastavro.parse_schema(ORDERS)
    record = {"order_id": "o-1", "customer_id": "c-1", "status": "PAID", "amount_cents": 1,
              "currency": "EUR", "items": [], "shipping_country": "DE",
              "created_at": 0}
    body = encoded(parsed, record)
    read = avro_reader.compile_reader(parsed, native=True)
    expected = by_fastavro(parsed, body)
    for buf in (b"xy" + body, bytearray(b"xy" + body), memoryview(b"xy" + body)):
        assert read(buf, 2) == (expected, len(body) + 2)
    with pytest.raises(DecodeError, match="position 99"):
        read(body, 99)
    with pytest.raises(DecodeError, match="ends at byte 0"):
        read(b"", 0)


@pytest.mark.parametrize("plan, why", [
    ((), "non-empty tuple"), ((99,), "kind 99"), ((7, ("a",)), "has 2 items"),
    ((7, ("a",), ((2,), (2,))), "tuple of its size"), ((8, "AB"), "malformed")])
def test_the_c_reader_refuses_a_malformed_plan(plan, why):
    from consumer import _avro_native
    with pytest.raises((TypeError, ValueError), match=why):
        _avro_native.Reader(plan, DecodeError)



@pytest.mark.parametrize("buf", [b"\xff" * 9 + b"\x7f", b"\xfe" * 9 + b"\x03"])
def test_a_tenth_varint_byte_gives_only_the_64th_bit_as_fastavro_does(buf, compile_reader):
    parsed = fastavro.parse_schema("long")
    assert compile_reader(parsed)(buf, 0) == (by_fastavro(parsed, buf), 10)


def test_without_the_c_reader_python_reads_and_a_warning_says_so(monkeypatch, caplog):
    monkeypatch.setattr(avro_reader, "NATIVE", False)
    monkeypatch.setattr(avro_reader, "_avro_native", None)
    avro_reader._warn_once_without_c_reader.cache_clear()
    parsed = fastavro.parse_schema(ORDERS)
    with caplog.at_level("WARNING", logger="consumer.avro_reader"):
        read = avro_reader.compile_reader(parsed, native=False)
        avro_reader.compile_reader(parsed, native=False)
    assert [r.message for r in caplog.records].count(
        "the C Avro reader is not built (no C compiler when consumer was installed): records "
        "are read by generated Python code, ~4x slower") == 1
    assert read is not None and read.__module__ != "consumer._avro_native"
    with pytest.raises(RuntimeError, match="not built"):
        avro_reader.compile_reader(parsed, native=True)
