"""Schema compatibility: can a reader schema read data written with a writer schema, by Avro's
resolution rules as Java Avro 1.10+ checks them (``SchemaCompatibility``), and the registry's
levels (BACKWARD, FORWARD, FULL, their ``_TRANSITIVE`` forms, NONE) built on that test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .avro_types import (
    Array,
    AvroSchema,
    Enum,
    Field,
    Fixed,
    Map,
    NamedType,
    Record,
    UnionSchema,
    describe,
)

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE")
DEFAULT_LEVEL = "BACKWARD"

# Writer type -> the reader types it may be promoted to (Avro spec, "Schema Resolution").
_PROMOTIONS = {"int": {"long", "float", "double"}, "long": {"float", "double"},
               "float": {"double"}, "string": {"bytes"}, "bytes": {"string"}}


@dataclass(frozen=True)
class Incompatibility:
    kind: str
    """Java Avro's ``SchemaIncompatibilityType``: TYPE_MISMATCH, NAME_MISMATCH, ..."""
    location: str
    """JSON pointer into the reader schema, e.g. ``/fields/2/type``."""
    message: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.location or '/'}: {self.message}"


def incompatibilities(reader: AvroSchema, writer: AvroSchema) -> list[Incompatibility]:
    """Everything that stops ``reader`` from reading all data written with ``writer``."""
    return _Checker().check(reader, writer, [""])


def is_compatible(reader: AvroSchema, writer: AvroSchema) -> bool:
    return not incompatibilities(reader, writer)


def check_level(level: str, new: AvroSchema,
                previous: Sequence[tuple[int, AvroSchema]]) -> list[str]:
    """Why ``new`` may not follow ``previous`` (``(version, schema)`` pairs, oldest first) at
    ``level``; an empty list means it may."""
    if level == "NONE" or not previous:
        return []
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    direction = level.removesuffix("_TRANSITIVE")
    reasons: list[str] = []
    for version, old in reversed(against):
        if direction in ("BACKWARD", "FULL"):
            reasons += [f"{level}: the new schema cannot read data written with version "
                        f"{version}: {problem}" for problem in incompatibilities(new, old)]
        if direction in ("FORWARD", "FULL"):
            reasons += [f"{level}: version {version} cannot read data written with the new "
                        f"schema: {problem}" for problem in incompatibilities(old, new)]
    return reasons


class _Checker:
    def __init__(self) -> None:
        # Memo per (reader, writer) node pair; None marks a pair being checked, which is how
        # recursive schemas end: a pair met again inside itself is compatible unless proven not.
        self._memo: dict[tuple[int, int], list[Incompatibility] | None] = {}

    def check(self, reader: AvroSchema, writer: AvroSchema,
              path: list[str]) -> list[Incompatibility]:
        key = (id(reader), id(writer))
        if key in self._memo:
            return self._memo[key] or []
        self._memo[key] = None
        found = self._calculate(reader, writer, path)
        self._memo[key] = found
        return found

    def _calculate(self, reader: AvroSchema, writer: AvroSchema,
                   path: list[str]) -> list[Incompatibility]:
        if reader.type == writer.type:
            if isinstance(reader, Array) and isinstance(writer, Array):
                return self.check(reader.items, writer.items, [*path, "items"])
            if isinstance(reader, Map) and isinstance(writer, Map):
                return self.check(reader.values, writer.values, [*path, "values"])
            if isinstance(reader, Fixed) and isinstance(writer, Fixed):
                return _names(reader, writer, path) + _fixed_size(reader, writer, path)
            if isinstance(reader, Enum) and isinstance(writer, Enum):
                return _names(reader, writer, path) + _enum_symbols(reader, writer, path)
            if isinstance(reader, Record) and isinstance(writer, Record):
                return _names(reader, writer, path) + self._fields(reader, writer, path)
            if isinstance(reader, UnionSchema) and isinstance(writer, UnionSchema):
                found = []
                for index, branch in enumerate(writer.branches):
                    if self.check(reader, branch, [*path, str(index)]):
                        found.append(_problem("MISSING_UNION_BRANCH", path,
                                              f"reader union lacks writer type {describe(branch)}"))
                return found
            return []
        if isinstance(writer, UnionSchema):
            # Every branch the writer may have used must be readable.
            return [p for branch in writer.branches for p in self.check(reader, branch, path)]
        if isinstance(reader, UnionSchema):
            if any(not self.check(branch, writer, path) for branch in reader.branches):
                return []
            return [_problem("MISSING_UNION_BRANCH", path,
                             f"reader union lacks writer type {describe(writer)}")]
        if reader.type in _PROMOTIONS.get(writer.type, ()):
            return []
        return [_problem("TYPE_MISMATCH", path, f"reader type {describe(reader)} is not "
                         f"compatible with writer type {describe(writer)}")]

    def _fields(self, reader: Record, writer: Record, path: list[str]) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        for fld in reader.fields:
            where = [*path, "fields", str(fld.position)]
            source = _writer_field(writer, fld)
            if source is not None:
                found += self.check(fld.schema, source.schema, [*where, "type"])
            elif not fld.has_default:
                found.append(_problem(
                    "READER_FIELD_MISSING_DEFAULT_VALUE", where,
                    f"reader field {fld.name!r} of {reader.name} has no default value and the "
                    f"writer has no such field" + (f" (nor one named {', '.join(fld.aliases)})"
                                                   if fld.aliases else "")))
        return found


def _writer_field(writer: Record, reader_field: Field) -> Field | None:
    """The writer field read into ``reader_field``: same name, else one of its aliases."""
    for name in (reader_field.name, *reader_field.aliases):
        found = writer.field_named(name)
        if found is not None:
            return found
    return None


def _names(reader: NamedType, writer: NamedType, path: list[str]) -> list[Incompatibility]:
    # Java Avro 1.10+ compares unqualified names, then the reader's (full) aliases.
    if reader.short_name == writer.short_name or writer.name in reader.aliases:
        return []
    return [_problem("NAME_MISMATCH", [*path, "name"],
                     f"reader {describe(reader)} does not match writer name "
                     f"{writer.name} and has no alias for it")]


def _fixed_size(reader: Fixed, writer: Fixed, path: list[str]) -> list[Incompatibility]:
    if reader.size == writer.size:
        return []
    return [_problem("FIXED_SIZE_MISMATCH", [*path, "size"],
                     f"fixed {reader.name}: writer size {writer.size}, reader size {reader.size}")]


def _enum_symbols(reader: Enum, writer: Enum, path: list[str]) -> list[Incompatibility]:
    missing = sorted(set(writer.symbols) - set(reader.symbols))
    if not missing or reader.default is not None:
        return []
    return [_problem("MISSING_ENUM_SYMBOLS", [*path, "symbols"],
                     f"enum {reader.name}: reader lacks writer symbols {missing} and has no "
                     "enum default to read them as")]


def _problem(kind: str, path: list[str], message: str) -> Incompatibility:
    return Incompatibility(kind, "/".join(path), message)
