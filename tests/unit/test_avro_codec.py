"""The Confluent wire format codec: framing, unknown ids, corrupt bytes, and schema evolution
through a reader schema, against a stand-in registry."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from consumer.avro_codec import AvroDecoder, AvroEncoder
from consumer.errors import (
    DecodeError,
    FramingError,
    RegistryUnavailable,
    UnknownSchemaError,
    ValidationError,
)
from consumer.registry_client import WriterSchema

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
V1, V2, V3 = (json.loads((SCHEMAS / f"orders-v{n}.avsc").read_text()) for n in (1, 2, 3))
ORDER_V2 = {"order_id": "o-1", "customer_id": "c-9", "status": "REFUNDED", "amount_cents": 2500,
            "currency": "EUR", "discount_cents": 100,
            "items": [{"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250}],
            "shipping_country": "FR", "created_at": 1763769600000, "coupon_code": "WELCOME"}


class StubRegistry:
    """Serves fixed schemas by id and counts fetches; ``down`` makes it unreachable."""

    def __init__(self, schemas: dict[int, Any]) -> None:
        self.schemas = schemas
        self.fetches: list[int] = []
        self.down = False

    def schema(self, schema_id: int) -> WriterSchema:
        self.fetches.append(schema_id)
        if self.down:
            raise RegistryUnavailable("registry down")
        if schema_id not in self.schemas:
            raise UnknownSchemaError(f"schema id {schema_id} does not exist")
        definition = self.schemas[schema_id]
        return WriterSchema(schema_id, json.dumps(definition), definition,
                            fastavro.parse_schema(definition))


def frame(schema_id: int, schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    out.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


@pytest.fixture
def registry() -> StubRegistry:
    return StubRegistry({1: V1, 2: V2, 3: V3})


def test_confluent_example_bytes_decode(registry):
    registry.schemas[7] = {"type": "record", "name": "N", "fields": [{"name": "name", "type": "string"}]}
    # docs/schema-registry-api.md: id with record {name: "x"} is 00 <id> 02 78
    assert AvroDecoder(registry).decode(bytes.fromhex("0000000007" "0278")) == ({"name": "x"}, 7)


def test_decodes_with_the_writer_schema_and_fetches_it_once(registry):
    decoder = AvroDecoder(registry)
    payload = frame(2, V2, ORDER_V2)
    for _ in range(3):
        record, schema_id = decoder.decode(payload)
    assert schema_id == 2 and record["coupon_code"] == "WELCOME" and record["status"] == "REFUNDED"
    assert registry.fetches == [2]


@pytest.mark.parametrize(("value", "message"), [
    (None, "0 bytes"),
    (b"", "0 bytes"),
    (b"\x00\x00\x00\x00\x02", "5 bytes"),
    (b"\x01\x00\x00\x00\x02\x02x", "magic byte 1"),
    (b'{"order_id": 1}', "magic byte 123"),
])
def test_bad_framing_is_a_framing_error(registry, value, message):
    with pytest.raises(FramingError, match=message):
        AvroDecoder(registry).decode(value)
    assert registry.fetches == []


def test_unknown_schema_id(registry):
    with pytest.raises(UnknownSchemaError, match="99"):
        AvroDecoder(registry).decode(b"\x00\x00\x00\x00\x63\x02")


def test_registry_down_is_transient_and_retried_later(registry):
    decoder = AvroDecoder(registry)
    registry.down = True
    payload = frame(2, V2, ORDER_V2)
    with pytest.raises(RegistryUnavailable):
        decoder.decode(payload)
    registry.down = False
    assert decoder.decode(payload)[1] == 2


@pytest.mark.parametrize("mangle", [
    lambda b: b[:-4],                       # truncated
    lambda b: b + b"\x00",                  # trailing garbage
    lambda b: b[:5] + b"\x7f" * 4 + b[9:],  # a string length pointing past the end
    lambda b: b[:5] + b"\x03" + b[6:],      # odd zig-zag: a negative string length
])
def test_corrupt_bytes_are_decode_errors(registry, mangle):
    with pytest.raises(DecodeError):
        AvroDecoder(registry).decode(mangle(frame(2, V2, ORDER_V2)))


def test_truncated_bytes_are_caught_even_in_fields_the_reader_skips(registry):
    # coupon_code is last and v2-only: a v1 reader skips it, and fastavro alone would not see
    # that the value ends inside it.
    payload = frame(2, V2, ORDER_V2)
    with pytest.raises(DecodeError, match="past the end"):
        AvroDecoder(registry, V1).decode(payload[:-3])


def test_v2_records_read_with_a_v1_reader(registry):
    record, schema_id = AvroDecoder(registry, V1).decode(frame(2, V2, ORDER_V2))
    assert schema_id == 2
    assert set(record) == {f["name"] for f in V1["fields"]}  # v2-only fields are dropped
    assert record["status"] == "UNKNOWN"  # a v2-only symbol reads as v1's enum default


def test_v1_records_read_with_a_v2_reader_get_defaults(registry):
    v1_order = {k: v for k, v in ORDER_V2.items() if k not in ("discount_cents", "coupon_code")}
    v1_order["status"] = "PAID"
    record, _ = AvroDecoder(registry, V2).decode(frame(1, V1, v1_order))
    assert record["discount_cents"] == 0 and record["coupon_code"] is None
    assert record["status"] == "PAID"


def test_writer_that_cannot_resolve_to_the_reader_is_a_validation_error(registry):
    decoder = AvroDecoder(registry, V3)
    payload = frame(2, V2, ORDER_V2)
    for _ in range(2):
        with pytest.raises(ValidationError, match="reader field 'warehouse_id'"):
            decoder.decode(payload)
    assert registry.fetches == [2]  # the verdict is cached with the plan


def test_reader_equal_to_writer_reads_without_resolution(registry):
    record, _ = AvroDecoder(registry, V2).decode(frame(2, V2, ORDER_V2))
    assert record["discount_cents"] == 100


def test_encoder_writes_the_wire_format_the_decoder_reads(registry):
    encoder = AvroEncoder(2, V2)
    payload = encoder.encode(ORDER_V2)
    assert payload[:5] == b"\x00\x00\x00\x00\x02"
    assert AvroDecoder(registry).decode(payload)[0]["order_id"] == "o-1"


def test_encoder_names_the_field_that_does_not_fit():
    with pytest.raises(ValidationError, match="amount_cents"):
        AvroEncoder(2, V2).encode({**ORDER_V2, "amount_cents": "lots"})


@pytest.mark.parametrize("reader", [None, V1], ids=["writer schema", "v1 reader"])
def test_a_timestamp_past_year_9999_is_read_as_its_underlying_long(registry, reader):
    # 10000-01-01T00:00:00Z: valid Avro that Python's datetime cannot hold.
    late = dict(ORDER_V2, created_at=253_402_300_800_000)
    record, schema_id = AvroDecoder(registry, reader).decode(frame(2, V2, late))
    assert schema_id == 2 and record["created_at"] == 253_402_300_800_000
    assert record["order_id"] == "o-1" and record["items"][0]["quantity"] == 2
    # Only that record: the next one has its datetime again.
    ordinary, _ = AvroDecoder(registry, reader).decode(frame(2, V2, ORDER_V2))
    assert ordinary["created_at"].year == 2025


def test_corrupt_bytes_stay_a_decode_error_when_read_as_underlying_types_too(registry):
    value = frame(2, V2, ORDER_V2)
    bad_utf8 = value[:6] + b"\xff\xfe\xfd" + value[9:]     # inside order_id, a string
    with pytest.raises(DecodeError, match="do not decode with schema 2"):
        AvroDecoder(registry).decode(bad_utf8)
