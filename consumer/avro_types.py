"""The parsed form of an Avro schema: one node class per Avro type. Named types hold their full
name; references to a named type are the same node object, so recursive schemas are cycles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRIMITIVE_TYPES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
FIELD_ORDERS = ("ascending", "descending", "ignore")


class _Missing:
    """The absence of a field default (``None`` is a valid default: JSON null)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _Missing()


@dataclass(eq=False)
class Primitive:
    type: str
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class NamedType:
    """Common part of record, enum and fixed. ``name`` and ``aliases`` are full names."""

    name: str
    aliases: tuple[str, ...]
    doc: str | None
    props: dict[str, Any]

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def kind(self) -> str:
        """``record``, ``enum`` or ``fixed``."""
        return type(self).__name__.lower()


@dataclass(eq=False)
class Field:
    name: str
    schema: AvroSchema
    position: int
    default: Any = NO_DEFAULT
    doc: str | None = None
    order: str = "ascending"
    aliases: tuple[str, ...] = ()
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(eq=False)
class Record(NamedType):
    fields: list[Field] = field(default_factory=list)
    is_error: bool = False
    type: str = "record"

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(eq=False)
class Enum(NamedType):
    symbols: tuple[str, ...] = ()
    default: str | None = None
    type: str = "enum"


@dataclass(eq=False)
class Fixed(NamedType):
    size: int = 0
    type: str = "fixed"


@dataclass(eq=False)
class Array:
    items: AvroSchema
    props: dict[str, Any] = field(default_factory=dict)
    type: str = "array"


@dataclass(eq=False)
class Map:
    values: AvroSchema
    props: dict[str, Any] = field(default_factory=dict)
    type: str = "map"


@dataclass(eq=False)
class UnionSchema:
    branches: list[AvroSchema]
    type: str = "union"


AvroSchema = Primitive | Record | Enum | Fixed | Array | Map | UnionSchema


def describe(schema: AvroSchema | NamedType) -> str:
    """A short human name for messages: ``int``, ``record com.example.Order``, ``union``."""
    if isinstance(schema, NamedType):
        return f"{schema.kind} {schema.name}"
    if isinstance(schema, UnionSchema):
        return "[" + ", ".join(describe(b) for b in schema.branches) + "]"
    return schema.type
