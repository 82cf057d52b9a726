"""Avro readers generated for one writer schema: Python source in which every field's decoding
is written out for that schema, compiled once and kept with the schema's plan. fastavro's
reader walks the schema for every record; on the runtime's `orders` records this reads ~1.8x
faster (bench/avro_decode.py), and decoding is most of what an Avro message costs the poll
thread.

``compile_reader(parsed)`` takes fastavro's parsed form and returns ``read(buf, pos) -> (record,
end)``, or None for what it leaves to fastavro: recursive types, arrays and maps whose items
can take no bytes (a count could not be checked against the bytes left), and anything it does
not know. Records come out as fastavro gives them, logical types included (fastavro's own
converters, the two timestamp ones written out); tests/unit/test_avro_reader.py checks that
against fastavro on hypothesis-generated records and bytes.

Corrupt input raises (IndexError past the end, UnicodeDecodeError, struct.error, DecodeError);
the caller compares ``end`` with the length, so a value that stops early or runs on is caught.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from typing import Any

from fastavro.read import LOGICAL_READERS

from .errors import DecodeError

Reader = Callable[[bytes, int], tuple[Any, int]]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
UTC_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MAX_VARINT_SHIFT = 63   # ten bytes hold 64 bits: a longer varint is not Avro
ZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))   # a one-byte long's value
# Within this many milliseconds of the epoch, ms / 1000 as a float is within 0.5 us of the
# exact time (its error is below |t| * 2**-53 s), so fromtimestamp() rounds to the exact
# microsecond; it is ~1.5x faster than adding a timedelta. Beyond it (after 2096), the sum.
EXACT_FLOAT_MS = 4 * 10**12


class _Unsupported(Exception):
    """Raised while generating: this schema is left to fastavro."""


class _Source:
    def __init__(self, named: dict[str, Any]) -> None:
        self.named = named
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"DecodeError": DecodeError,
                                          "timedelta": datetime.timedelta,
                                          "fromtimestamp": datetime.datetime.fromtimestamp,
                                          "UTC": datetime.UTC, "UTC_EPOCH": UTC_EPOCH,
                                          "ZIGZAG": ZIGZAG, "EXACT_MS": EXACT_FLOAT_MS}
        self._count = 0
        self._open: set[str] = set()   # records being generated, by full name

    def var(self, stem: str) -> str:
        self._count += 1
        return f"{stem}{self._count}"

    def constant(self, stem: str, value: Any) -> str:
        name = self.var(stem)
        self.constants[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def long(self, target: str, depth: int) -> None:
        # Most longs are one byte: its value is looked up. Longer ones are written out byte by
        # byte, nested, not looped: no shift counter to keep, no bound to test per byte.
        self.emit(depth, "b = buf[pos]; pos += 1")
        self.emit(depth, f"if b < 128: {target} = ZIGZAG[b]")
        self.emit(depth, "else:")
        self.emit(depth + 1, "a = b & 127")
        inner = depth + 1
        for shift in range(7, MAX_VARINT_SHIFT + 1, 7):
            self.emit(inner, f"b = buf[pos]; pos += 1; a |= (b & 127) << {shift}")
            self.emit(inner, "if b >= 128:")
            inner += 1
        self.emit(inner, "raise DecodeError('a varint longer than 10 bytes')")
        self.emit(depth + 1, f"{target} = (a >> 1) ^ -(a & 1)")

    def sized(self, target: str, depth: int, then: str) -> None:
        """bytes and string: a length, then that many bytes."""
        self.long("n", depth)
        self.emit(depth, "end = pos + n")
        self.emit(depth, "if n < 0 or end > size: raise DecodeError(f'a length of {n} at {pos}')")
        self.emit(depth, f"{target} = buf[pos:end]{then}; pos = end")

    def value(self, schema: Any, target: str, depth: int) -> None:
        if isinstance(schema, list):
            return self.union(schema, target, depth)
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return self.primitive(schema, target, depth)
            if schema in self._open or schema not in self.named:
                raise _Unsupported(schema)   # a record referring back to itself recurses
            return self.value(self.named[schema], target, depth)
        kind = schema.get("type")
        if kind in PRIMITIVES:
            self.primitive(kind, target, depth)
        elif kind in ("record", "error"):
            self.record(schema, target, depth)
        elif kind == "enum":
            symbols = self.constant("symbols", tuple(schema["symbols"]))
            self.long("i", depth)
            self.emit(depth, "if i < 0: raise DecodeError(f'enum index {i}')")
            self.emit(depth, f"{target} = {symbols}[i]")
        elif kind == "fixed":
            self.emit(depth, f"end = pos + {int(schema['size'])}")
            self.emit(depth, "if end > size: raise DecodeError('a fixed runs past the end')")
            self.emit(depth, f"{target} = buf[pos:end]; pos = end")
        elif kind in ("array", "map"):
            self.blocks(schema, target, depth)
        else:
            raise _Unsupported(kind)
        if "logicalType" in schema:
            self.logical(schema, f"{kind}-{schema['logicalType']}", target, depth)
        return None

    def primitive(self, kind: str, target: str, depth: int) -> None:
        if kind == "null":
            self.emit(depth, f"{target} = None")
        elif kind == "boolean":
            self.emit(depth, f"{target} = buf[pos] != 0; pos += 1")
        elif kind in ("int", "long"):
            self.long(target, depth)
        elif kind in ("float", "double"):
            width, code = (4, "<f") if kind == "float" else (8, "<d")
            unpack = self.constant("unpack", struct.Struct(code).unpack_from)
            self.emit(depth, f"{target} = {unpack}(buf, pos)[0]; pos += {width}")
        else:
            self.sized(target, depth, ".decode()" if kind == "string" else "")

    def logical(self, schema: dict[str, Any], key: str, target: str, depth: int) -> None:
        if key == "long-timestamp-millis":
            self.emit(depth, f"if -EXACT_MS < {target} < EXACT_MS: "
                             f"{target} = fromtimestamp({target} / 1000, UTC)")
            self.emit(depth, f"else: {target} = UTC_EPOCH + timedelta(0, {target} // 1000, "
                             f"{target} % 1000 * 1000)")
        elif key == "long-timestamp-micros":
            self.emit(depth, f"{target} = UTC_EPOCH + timedelta(0, 0, {target})")
        elif key in LOGICAL_READERS:
            convert = self.constant("logical", LOGICAL_READERS[key])
            written = self.constant("schema", schema)
            self.emit(depth, f"{target} = {convert}({target}, {written}, None)")

    def record(self, schema: dict[str, Any], target: str, depth: int) -> None:
        fields = []
        self._open.add(schema["name"])
        for field in schema["fields"]:
            name = self.var("f")
            self.value(field["type"], name, depth)
            fields.append(f"{field['name']!r}: {name}")
        self._open.discard(schema["name"])
        self.emit(depth, f"{target} = {{{', '.join(fields)}}}")

    def union(self, branches: list[Any], target: str, depth: int) -> None:
        index = self.var("u")
        self.long(index, depth)
        for n, branch in enumerate(branches):
            self.emit(depth, f"{'if' if n == 0 else 'elif'} {index} == {n}:")
            self.value(branch, target, depth + 1)
        self.emit(depth, f"else: raise DecodeError(f'union index {{{index}}}')")

    def blocks(self, schema: dict[str, Any], target: str, depth: int) -> None:
        """Arrays and maps: blocks of a count (negative: a byte size follows) until 0."""
        is_map = schema["type"] == "map"
        items = schema["values" if is_map else "items"]
        if self.min_bytes(items) == 0:
            raise _Unsupported("items that can take no bytes")
        count, item = self.var("c"), self.var("v")
        self.emit(depth, f"{target} = {{}}" if is_map else f"{target} = []")
        self.emit(depth, "while True:")
        self.long(count, depth + 1)
        self.emit(depth + 1, f"if {count} == 0: break")
        self.emit(depth + 1, f"if {count} < 0:")
        self.emit(depth + 2, f"{count} = -{count}")
        self.long("n", depth + 2)
        self.emit(depth + 1, f"if {count} > size - pos: "
                             f"raise DecodeError(f'a block of {{{count}}} items at {{pos}}')")
        self.emit(depth + 1, f"for _ in range({count}):")
        if is_map:
            key = self.var("k")
            self.sized(key, depth + 2, ".decode()")
            self.value(items, item, depth + 2)
            self.emit(depth + 2, f"{target}[{key}] = {item}")
        else:
            self.value(items, item, depth + 2)
            self.emit(depth + 2, f"{target}.append({item})")

    def min_bytes(self, schema: Any, seen: frozenset[str] = frozenset()) -> int:
        """The fewest bytes a value of this schema is written in (0 or more than 0)."""
        if isinstance(schema, list):
            return 1   # the branch index
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return 0 if schema == "null" else 1
            if schema in seen or schema not in self.named:
                return 1   # recursive or unknown: generating it is refused anyway
            return self.min_bytes(self.named[schema], seen | {schema})
        kind = schema.get("type")
        if kind in ("record", "error"):
            seen = seen | {schema["name"]}
            return max((self.min_bytes(f["type"], seen) for f in schema["fields"]), default=0)
        if kind == "fixed":
            return int(schema["size"])
        return self.min_bytes(kind, seen) if kind in PRIMITIVES else 1


def compile_reader(parsed: Any) -> Reader | None:
    """A reader for fastavro's parsed form of a writer schema, or None (left to fastavro)."""
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    source = _Source(named)
    try:
        source.value(parsed, "result", 1)
    except _Unsupported:
        return None
    text = "\n".join(["def read(buf, pos):", "    size = len(buf)", *source.lines,
                      "    return result, pos", ""])
    namespace = dict(source.constants)
    exec(compile(text, "<avro reader>", "exec"), namespace)
    reader: Reader = namespace["read"]
    return reader
