"""Parsing and validating Avro schemas the way Java Avro (and so Confluent's registry) does:
names and namespaces, named-type references, aliases, unions, and field defaults checked
against their types. ``parse_schema`` gives the schema tree and its canonical text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .avro_canonical import canonical_text
from .avro_types import (
    FIELD_ORDERS,
    NO_DEFAULT,
    PRIMITIVE_TYPES,
    Array,
    AvroSchema,
    Enum,
    Field,
    Fixed,
    Map,
    NamedType,
    Primitive,
    Record,
    UnionSchema,
    describe,
)
from .errors import InvalidSchemaError

_NAME = re.compile(r"[^\W\d]\w*")
_NAMED_KINDS = ("record", "error", "enum", "fixed")
# Keys with a meaning of their own; every other key is a custom property (Java Avro's sets).
_SCHEMA_RESERVED = frozenset({"doc", "fields", "items", "name", "namespace", "size", "symbols",
                              "values", "type", "aliases", "default"})
_FIELD_RESERVED = frozenset({"default", "doc", "name", "order", "type", "aliases"})
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class ParsedSchema:
    root: AvroSchema
    canonical: str
    """Confluent's identity of a schema: equal texts are the same schema (and the same id)."""

    @property
    def definition(self) -> Any:
        return json.loads(self.canonical)


def parse_schema(text: str) -> ParsedSchema:
    """Parses Avro schema JSON text; raises ``InvalidSchemaError`` saying what is wrong."""
    try:
        node = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, TypeError) as exc:
        raise InvalidSchemaError(f"schema is not valid JSON: {exc}") from None
    return parse_schema_json(node)


def parse_schema_json(node: Any) -> ParsedSchema:
    parser = _Parser()
    root = parser.parse(node, "", "schema")
    for fld, where in parser.fields_with_defaults:
        if not is_valid_default(fld.schema, fld.default):
            raise InvalidSchemaError(
                f"invalid default for field {fld.name!r} of {where}: "
                f"{json.dumps(fld.default)} is not a valid {describe(fld.schema)}")
    return ParsedSchema(root, canonical_text(root))


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed in JSON")


def full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not all(_NAME.fullmatch(p) for p in name.split(".")):
        raise InvalidSchemaError(f"{what}: {json.dumps(name)} is not a valid Avro name")
    return name


class _Parser:
    def __init__(self) -> None:
        self.names: dict[str, NamedType] = {}
        self.fields_with_defaults: list[tuple[Field, str]] = []

    def parse(self, node: Any, namespace: str, where: str) -> AvroSchema:
        if isinstance(node, str):
            return self._reference(node, namespace, where)
        if isinstance(node, list):
            return self._union(node, namespace, where)
        if not isinstance(node, dict):
            raise InvalidSchemaError(f"{where}: expected a type name, an object or a union, "
                                     f"got {json.dumps(node)}")
        kind = node.get("type")
        if not isinstance(kind, str):
            raise InvalidSchemaError(f"{where}: \"type\" must be a string, got {json.dumps(kind)}")
        props = {k: v for k, v in node.items() if k not in _SCHEMA_RESERVED}
        if kind in PRIMITIVE_TYPES:
            return Primitive(kind, props)
        if kind == "array":
            if "items" not in node:
                raise InvalidSchemaError(f"{where}: array has no \"items\"")
            return Array(self.parse(node["items"], namespace, f"{where}.items"), props)
        if kind == "map":
            if "values" not in node:
                raise InvalidSchemaError(f"{where}: map has no \"values\"")
            return Map(self.parse(node["values"], namespace, f"{where}.values"), props)
        if kind in _NAMED_KINDS:
            return self._named(kind, node, namespace, where, props)
        # Java Avro also lets {"type": "SomeName"} refer to an already defined named type.
        if full_name(kind, namespace) in self.names or kind in self.names:
            return self._reference(kind, namespace, where)
        raise InvalidSchemaError(f"{where}: unknown type {kind!r}")

    def _reference(self, name: str, namespace: str, where: str) -> AvroSchema:
        if name in PRIMITIVE_TYPES:
            return Primitive(name)
        found = self.names.get(full_name(name, namespace)) or self.names.get(name)
        if found is None:
            raise InvalidSchemaError(f"{where}: undefined type name {name!r} (neither a primitive "
                                     "nor a named type defined earlier in the schema)")
        return found  # type: ignore[return-value]

    def _union(self, node: list[Any], namespace: str, where: str) -> UnionSchema:
        branches: list[AvroSchema] = []
        seen: set[str] = set()
        for index, item in enumerate(node):
            branch = self.parse(item, namespace, f"{where}[{index}]")
            if isinstance(branch, UnionSchema):
                raise InvalidSchemaError(f"{where}: a union may not directly contain a union")
            key = branch.name if isinstance(branch, NamedType) else branch.type
            if key in seen:
                raise InvalidSchemaError(f"{where}: union contains {key!r} twice")
            seen.add(key)
            branches.append(branch)
        return UnionSchema(branches)

    def _named(self, kind: str, node: dict[str, Any], namespace: str, where: str,
               props: dict[str, Any]) -> AvroSchema:
        name = _check_name(node.get("name"), f"{where}: {kind} name")
        declared_space = node.get("namespace")
        if declared_space is not None and not isinstance(declared_space, str):
            raise InvalidSchemaError(f"{where}: namespace must be a string")
        if declared_space:
            _check_name(declared_space, f"{where}: namespace")
        space = namespace if declared_space is None else declared_space
        qualified = full_name(name, space)
        own_space = qualified.rpartition(".")[0]
        if name in PRIMITIVE_TYPES:
            raise InvalidSchemaError(f"{where}: a named type may not be called {name!r}")
        if qualified in self.names:
            raise InvalidSchemaError(f"{where}: type {qualified!r} is defined twice")
        doc = _doc(node)
        aliases = tuple(full_name(_check_name(a, f"{qualified} alias"), own_space)
                        for a in _string_list(node.get("aliases", []), f"{qualified} aliases"))
        here = f"{kind} {qualified}"
        named: NamedType
        if kind == "enum":
            named = self._enum(node, qualified, aliases, doc, props, here)
        elif kind == "fixed":
            size = node.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidSchemaError(f"{here}: \"size\" must be a non-negative integer")
            named = Fixed(qualified, aliases, doc, props, size=size)
        else:
            record = Record(qualified, aliases, doc, props, is_error=kind == "error")
            self.names[qualified] = record  # before the fields: they may refer to it
            record.fields = list(self._fields(node, own_space, here))
            return record
        self.names[qualified] = named
        return named

    def _enum(self, node: dict[str, Any], qualified: str, aliases: tuple[str, ...],
              doc: str | None, props: dict[str, Any], here: str) -> Enum:
        symbols = _string_list(node.get("symbols"), f"{here} symbols")
        for symbol in symbols:
            _check_name(symbol, f"{here} symbol")
        if len(set(symbols)) != len(symbols):
            raise InvalidSchemaError(f"{here}: duplicate symbols in {symbols}")
        default = node.get("default")
        if default is not None and default not in symbols:
            raise InvalidSchemaError(f"{here}: default {json.dumps(default)} is not one of "
                                     f"its symbols {symbols}")
        return Enum(qualified, aliases, doc, props, symbols=tuple(symbols), default=default)

    def _fields(self, node: dict[str, Any], namespace: str, here: str) -> Iterator[Field]:
        raw_fields = node.get("fields")
        if not isinstance(raw_fields, list):
            raise InvalidSchemaError(f"{here}: \"fields\" must be an array")
        seen: set[str] = set()
        for position, raw in enumerate(raw_fields):
            if not isinstance(raw, dict):
                raise InvalidSchemaError(f"{here}: field {position} is not an object")
            name = _check_name(raw.get("name"), f"{here}: field {position} name")
            if name in seen:
                raise InvalidSchemaError(f"{here}: field {name!r} is defined twice")
            seen.add(name)
            if "type" not in raw:
                raise InvalidSchemaError(f"{here}: field {name!r} has no type")
            order = raw.get("order", "ascending")
            if order not in FIELD_ORDERS:
                raise InvalidSchemaError(f"{here}: field {name!r}: order must be one of "
                                         f"{', '.join(FIELD_ORDERS)}")
            fld = Field(name, self.parse(raw["type"], namespace, f"{here}.{name}"), position,
                        default=raw.get("default", NO_DEFAULT), doc=_doc(raw), order=order,
                        aliases=tuple(_string_list(raw.get("aliases", []), f"{here}.{name} aliases")),
                        props={k: v for k, v in raw.items() if k not in _FIELD_RESERVED})
            if fld.has_default:
                self.fields_with_defaults.append((fld, here))
            yield fld


def _doc(node: dict[str, Any]) -> str | None:
    doc = node.get("doc")
    return doc if isinstance(doc, str) else None


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSchemaError(f"{what} must be an array of strings")
    return value


def is_valid_default(schema: AvroSchema, value: Any) -> bool:
    """Java Avro's ``Schema.isValidDefault``: a union's default may match any branch."""
    if isinstance(schema, UnionSchema):
        return any(is_valid_default(branch, value) for branch in schema.branches)
    kind = schema.type
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        low, high = _INT_RANGE if kind == "int" else _LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("string", "bytes", "enum", "fixed"):
        return isinstance(value, str)
    if isinstance(schema, Array):
        return isinstance(value, list) and all(is_valid_default(schema.items, v) for v in value)
    if isinstance(schema, Map):
        return isinstance(value, dict) and all(is_valid_default(schema.values, v)
                                               for v in value.values())
    if isinstance(schema, Record):
        return isinstance(value, dict) and all(
            is_valid_default(f.schema, value[f.name]) if f.name in value else f.has_default
            for f in schema.fields)
    return False
