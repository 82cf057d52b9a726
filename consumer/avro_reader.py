"""Readers for one writer schema, made once and kept with the schema's plan. fastavro's reader
walks the schema for every record; decoding is most of what an Avro message costs the poll
thread, so the runtime reads with its own readers (bench/avro_decode.py has the figures):

- the C reader (``_avro_native.c``, built by ``pip install`` where a C compiler is found): ~4x
  faster than the generated Python reader on the `orders` records, ~8x faster than fastavro;
- else Python source in which every field's decoding is written out for the schema's plan
  (``avro_plan``), compiled once: ~1.8x faster than fastavro.

``compile_reader(parsed)`` takes fastavro's parsed form and returns ``read(buf, pos) -> (record,
end)``, or None for what ``avro_plan`` leaves to fastavro. Records come out as fastavro gives
them, logical types included (fastavro's own converters, the two timestamp ones written out);
tests/unit/test_avro_reader.py checks both readers against fastavro on hypothesis-generated
records and bytes.

Corrupt input raises (DecodeError, and from the Python reader IndexError past the end and
struct.error; UnicodeDecodeError, and OverflowError for a timestamp Python cannot hold); the
caller compares ``end`` with the length, so a value that stops early or runs on is caught.
"""

from __future__ import annotations

import datetime
import functools
import logging
import struct
from collections.abc import Callable
from typing import Any

from .avro_plan import (
    ARRAY,
    BOOLEAN,
    BYTES,
    DOUBLE,
    ENUM,
    FIXED,
    FLOAT,
    LOGICAL,
    LONG,
    MAP,
    NULL,
    RECORD,
    STRING,
    TIMESTAMP_MICROS,
    TIMESTAMP_MILLIS,
    UNION,
    Plan,
    Unsupported,
    plan_of,
)
from .errors import DecodeError

try:
    from . import _avro_native  # type: ignore[attr-defined]
except ImportError:   # no C compiler where it was installed: the Python readers serve
    _avro_native = None

log = logging.getLogger(__name__)

Reader = Callable[[bytes, int], tuple[Any, int]]

NATIVE = _avro_native is not None
UTC_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MAX_VARINT_SHIFT = 63   # ten bytes hold 64 bits: a longer varint is not Avro
ZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))   # a one-byte long's value
# Within this many milliseconds of the epoch, ms / 1000 as a float is within 0.5 us of the
# exact time (its error is below |t| * 2**-53 s), so fromtimestamp() rounds to the exact
# microsecond; it is ~1.5x faster than adding a timedelta. Beyond it (after 2096), the sum.
EXACT_FLOAT_MS = 4 * 10**12


def compile_reader(parsed: Any, *, native: bool = NATIVE) -> Reader | None:
    """A reader for fastavro's parsed form of a writer schema, or None (left to fastavro).
    ``native=False`` gives the generated Python reader even where the C one is built."""
    try:
        plan = plan_of(parsed)
    except Unsupported:
        return None
    if not NATIVE:
        _warn_once_without_c_reader()
    if native:
        if _avro_native is None:
            raise RuntimeError("the C Avro reader is not built (no C compiler at install?)")
        reader: Reader = _avro_native.Reader(plan, DecodeError).read
        return reader
    return python_reader(plan)


@functools.cache
def _warn_once_without_c_reader() -> None:
    log.warning("the C Avro reader is not built (no C compiler when consumer was installed): "
                "records are read by generated Python code, ~4x slower")


def python_reader(plan: Plan) -> Reader:
    source = _Source()
    source.value(plan, "result", 1)
    text = "\n".join(["def read(buf, pos):", "    size = len(buf)", *source.lines,
                      "    return result, pos", ""])
    namespace = dict(source.constants)
    exec(compile(text, "<avro reader>", "exec"), namespace)
    reader: Reader = namespace["read"]
    return reader


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"DecodeError": DecodeError,
                                          "timedelta": datetime.timedelta,
                                          "fromtimestamp": datetime.datetime.fromtimestamp,
                                          "UTC": datetime.UTC, "UTC_EPOCH": UTC_EPOCH,
                                          "ZIGZAG": ZIGZAG, "EXACT_MS": EXACT_FLOAT_MS}
        self._count = 0

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
            # the tenth byte's bits past the 64th are dropped, as fastavro and Java drop them
            bits = 127 if shift < MAX_VARINT_SHIFT else 1
            self.emit(inner, f"b = buf[pos]; pos += 1; a |= (b & {bits}) << {shift}")
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

    def value(self, plan: Plan, target: str, depth: int) -> None:
        kind = plan[0]
        if kind == NULL:
            self.emit(depth, f"{target} = None")
        elif kind == BOOLEAN:
            self.emit(depth, f"{target} = buf[pos] != 0; pos += 1")
        elif kind == LONG:
            self.long(target, depth)
        elif kind in (FLOAT, DOUBLE):
            width, code = (4, "<f") if kind == FLOAT else (8, "<d")
            unpack = self.constant("unpack", struct.Struct(code).unpack_from)
            self.emit(depth, f"{target} = {unpack}(buf, pos)[0]; pos += {width}")
        elif kind in (BYTES, STRING):
            self.sized(target, depth, ".decode()" if kind == STRING else "")
        elif kind == RECORD:
            self.record(plan, target, depth)
        elif kind == ENUM:
            symbols = self.constant("symbols", plan[1])
            self.long("i", depth)
            self.emit(depth, "if i < 0: raise DecodeError(f'enum index {i}')")
            self.emit(depth, f"{target} = {symbols}[i]")
        elif kind == FIXED:
            self.emit(depth, f"end = pos + {plan[1]}")
            self.emit(depth, "if end > size: raise DecodeError('a fixed runs past the end')")
            self.emit(depth, f"{target} = buf[pos:end]; pos = end")
        elif kind in (ARRAY, MAP):
            self.blocks(plan, target, depth)
        elif kind == UNION:
            self.union(plan, target, depth)
        else:
            self.logical(plan, target, depth)

    def logical(self, plan: Plan, target: str, depth: int) -> None:
        kind = plan[0]
        if kind == TIMESTAMP_MILLIS:
            self.long(target, depth)
            self.emit(depth, f"if -EXACT_MS < {target} < EXACT_MS: "
                             f"{target} = fromtimestamp({target} / 1000, UTC)")
            self.emit(depth, f"else: {target} = UTC_EPOCH + timedelta(0, {target} // 1000, "
                             f"{target} % 1000 * 1000)")
        elif kind == TIMESTAMP_MICROS:
            self.long(target, depth)
            self.emit(depth, f"{target} = UTC_EPOCH + timedelta(0, 0, {target})")
        else:
            assert kind == LOGICAL, plan
            self.value(plan[1], target, depth)
            convert = self.constant("logical", plan[2])
            written = self.constant("schema", plan[3])
            self.emit(depth, f"{target} = {convert}({target}, {written}, None)")

    def record(self, plan: Plan, target: str, depth: int) -> None:
        fields = []
        for field_name, field_plan in zip(plan[1], plan[2], strict=True):
            name = self.var("f")
            self.value(field_plan, name, depth)
            fields.append(f"{field_name!r}: {name}")
        self.emit(depth, f"{target} = {{{', '.join(fields)}}}")

    def union(self, plan: Plan, target: str, depth: int) -> None:
        index = self.var("u")
        self.long(index, depth)
        for n, branch in enumerate(plan[1]):
            self.emit(depth, f"{'if' if n == 0 else 'elif'} {index} == {n}:")
            self.value(branch, target, depth + 1)
        self.emit(depth, f"else: raise DecodeError(f'union index {{{index}}}')")

    def blocks(self, plan: Plan, target: str, depth: int) -> None:
        """Arrays and maps: blocks of a count (negative: a byte size follows) until 0."""
        is_map = plan[0] == MAP
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
            self.value(plan[1], item, depth + 2)
            self.emit(depth + 2, f"{target}[{key}] = {item}")
        else:
            self.value(plan[1], item, depth + 2)
            self.emit(depth + 2, f"{target}.append({item})")
