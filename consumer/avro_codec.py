"""Avro in Confluent's wire format: byte 0, the writer schema id (4 bytes, big-endian), then the
Avro binary body. ``AvroDecoder`` is on the runtime's hot path: per record it reads the header,
finds the plan cached for that writer id and calls the reader made for that schema
(``avro_reader``: in C, or generated Python) with no copy of the bytes; fastavro reads what
needs resolving to a reader schema and what ``avro_plan`` leaves to it."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError as RecordMismatch
from fastavro.validation import validate

from .avro_compat import incompatibilities
from .avro_reader import Reader, compile_reader
from .avro_schema import parse_schema_json
from .avro_types import AvroSchema
from .constants import WIRE_HEADER_BYTES, WIRE_MAGIC
from .errors import DecodeError, FramingError, InvalidSchemaError, ValidationError
from .registry_client import RegistryClient

_SENTINEL = b"\x00"
_SCHEMA_ID = struct.Struct(">I")  # big-endian unsigned, after the magic byte


@dataclass(frozen=True)
class _Plan:
    writer: Any
    reader: Any
    """None when no resolution is needed (no reader schema, or the same schema)."""
    refusal: str | None = None
    """Why this writer cannot be read as the reader schema, when it cannot."""
    read: Reader | None = None
    """The reader made for the writer schema, when no resolution is needed and the schema is
    one ``avro_plan`` covers; else fastavro reads."""


def underlying(schema: Any) -> Any:
    """The schema without its logical types: each value read as its underlying Avro type."""
    if isinstance(schema, dict):
        return {k: underlying(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [underlying(item) for item in schema]
    return schema


class AvroDecoder:
    """``decode(value) -> (record, schema_id)``. With ``reader_schema``, records written with
    another schema are resolved to it (schema evolution); a writer schema that cannot be
    resolved to it is a ``ValidationError`` for each of its records, with the reasons.

    A valid value that a logical type cannot hold in Python (a timestamp-millis after year
    9999: Java reads it, ``datetime`` ends there) is given in its underlying type, the int, as
    the Avro spec has readers do with logical types they cannot apply; only that record's
    values of logical types are read that way."""

    def __init__(self, registry: RegistryClient, reader_schema: Any = None) -> None:
        self._registry = registry
        self._reader_tree: AvroSchema | None = None
        self._reader_parsed: Any = None
        self._reader_canonical: str | None = None
        self._reader_definition = reader_schema
        if reader_schema is not None:
            parsed = parse_schema_json(reader_schema)  # InvalidSchemaError: bad configuration
            self._reader_tree = parsed.root
            self._reader_canonical = parsed.canonical
            self._reader_parsed = fastavro.parse_schema(reader_schema)
        self._plans: dict[int, _Plan] = {}
        self._underlying_plans: dict[int, _Plan] = {}

    def decode(self, value: bytes) -> tuple[Any, int]:
        if value is None or len(value) <= WIRE_HEADER_BYTES:
            raise FramingError(f"{0 if value is None else len(value)} bytes: the Confluent wire "
                               f"format needs more than {WIRE_HEADER_BYTES}")
        if value[0] != WIRE_MAGIC:
            raise FramingError(f"magic byte {value[0]}, expected {WIRE_MAGIC} (not the "
                               "Confluent wire format)")
        schema_id = _SCHEMA_ID.unpack_from(value, 1)[0]
        plan = self._plans.get(schema_id) or self._plan(schema_id)
        if plan.refusal is not None:
            raise ValidationError(plan.refusal)
        if plan.read is None:
            record, end = self._read_fastavro(value, schema_id, plan)
        else:
            try:
                record, end = plan.read(value, WIRE_HEADER_BYTES)
            except (OverflowError, ValueError):  # perhaps a logical type out of Python's range
                stream = io.BytesIO(value)
                stream.seek(WIRE_HEADER_BYTES)
                record, end = self._read_underlying(stream, schema_id, plan), stream.tell()
            except Exception as exc:  # corrupt bytes fail in many ways
                raise DecodeError(f"bytes do not decode with schema {schema_id}: "
                                  f"{type(exc).__name__}: {exc}") from None
        if end > len(value):
            raise DecodeError(f"bytes do not decode with schema {schema_id}: the record runs "
                              "past the end of the value (truncated?)")
        if end < len(value):
            raise DecodeError(f"{len(value) - end} bytes left over after the record "
                              f"(schema {schema_id}): not what the schema wrote")
        return record, schema_id

    def _read_fastavro(self, value: bytes, schema_id: int, plan: _Plan) -> tuple[Any, int]:
        """For plans that resolve the writer schema to the reader's, and for writer schemas
        ``avro_reader`` leaves to fastavro."""
        # fastavro does not notice a value it skips (writer-only fields) running past the
        # end: one sentinel byte makes any such overrun show in tell().
        stream = io.BytesIO(value + _SENTINEL)
        stream.seek(WIRE_HEADER_BYTES)
        try:
            record = fastavro.schemaless_reader(stream, plan.writer, plan.reader)
        except SchemaResolutionError as exc:
            raise ValidationError(f"schema {schema_id} record does not resolve to the reader "
                                  f"schema: {exc}") from None
        except (OverflowError, ValueError):  # perhaps a logical type out of Python's range
            stream.seek(WIRE_HEADER_BYTES)
            record = self._read_underlying(stream, schema_id, plan)
        except Exception as exc:  # corrupt bytes fail in many ways inside fastavro
            raise DecodeError(f"bytes do not decode with schema {schema_id}: "
                              f"{type(exc).__name__}: {exc}") from None
        return record, stream.tell()

    def _read_underlying(self, stream: io.BytesIO, schema_id: int, plan: _Plan) -> Any:
        underlying_plan = self._underlying_plans.get(schema_id)
        if underlying_plan is None:
            writer = fastavro.parse_schema(underlying(self._registry.schema(schema_id).definition))
            reader = None if plan.reader is None else \
                fastavro.parse_schema(underlying(self._reader_definition))
            underlying_plan = self._underlying_plans[schema_id] = _Plan(writer, reader)
        try:
            return fastavro.schemaless_reader(stream, underlying_plan.writer,
                                              underlying_plan.reader)
        except Exception as exc:
            raise DecodeError(f"bytes do not decode with schema {schema_id}: "
                              f"{type(exc).__name__}: {exc}") from None

    def _plan(self, schema_id: int) -> _Plan:
        writer = self._registry.schema(schema_id)  # UnknownSchemaError, RegistryUnavailable
        plan = _Plan(writer.parsed, None, read=compile_reader(writer.parsed))
        if self._reader_tree is not None:
            try:
                writer_schema = parse_schema_json(writer.definition)
            except InvalidSchemaError as exc:
                raise DecodeError(f"writer schema {schema_id} is not valid Avro: {exc}") from None
            problems = incompatibilities(self._reader_tree, writer_schema.root)
            if problems:
                plan = _Plan(writer.parsed, None, refusal=(
                    f"writer schema {schema_id} cannot be read as the reader schema: "
                    + "; ".join(str(p) for p in problems)))
            elif writer_schema.canonical != self._reader_canonical:
                plan = _Plan(writer.parsed, self._reader_parsed)
        self._plans[schema_id] = plan
        return plan


class AvroEncoder:
    """Encodes records with one registered schema into the Confluent wire format."""

    def __init__(self, schema_id: int, schema: Any) -> None:
        self.schema_id = schema_id
        self._parsed = fastavro.parse_schema(schema)
        self._header = bytes([WIRE_MAGIC]) + _SCHEMA_ID.pack(schema_id)

    @classmethod
    def for_subject(cls, registry: RegistryClient, subject: str,
                    version: int | str = "latest") -> AvroEncoder:
        found = registry.version(subject, version)
        return cls(int(found["id"]), json.loads(found["schema"]))

    def encode(self, record: Any) -> bytes:
        """Raises ``ValidationError`` naming the fields that do not fit the schema."""
        try:
            validate(record, self._parsed, raise_errors=True)
        except RecordMismatch as exc:
            raise ValidationError(f"record does not fit schema {self.schema_id}: "
                                  + "; ".join(str(e) for e in exc.errors)) from None
        out = io.BytesIO()
        out.write(self._header)
        fastavro.schemaless_writer(out, self._parsed, record)
        return out.getvalue()
