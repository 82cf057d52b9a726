"""The canonical text of a parsed schema, shaped like Java Avro's ``Schema.toString()``, which
Confluent uses as a schema's identity: compact, keys in a fixed order, a named type written in
full once and by name after, names relative to the enclosing namespace, ``"string"`` for a
primitive without properties. Whitespace, key order and spelling variants of the same schema
vanish; doc, aliases, defaults, field order and custom properties stay."""

from __future__ import annotations

import json
from typing import Any

from .avro_types import (
    Array,
    AvroSchema,
    Enum,
    Field,
    Fixed,
    Map,
    Primitive,
    Record,
    UnionSchema,
)


def canonical_text(schema: AvroSchema) -> str:
    return json.dumps(_to_json(schema, set(), ""), separators=(",", ":"), ensure_ascii=False)


def _relative(name: str, space: str) -> str:
    namespace, _, short = name.rpartition(".")
    return short if namespace == space else name


def _to_json(schema: AvroSchema, written: set[str], space: str) -> Any:
    if isinstance(schema, Primitive):
        return {"type": schema.type, **_sorted(schema.props)} if schema.props else schema.type
    if isinstance(schema, UnionSchema):
        return [_to_json(branch, written, space) for branch in schema.branches]
    if isinstance(schema, Array):
        return {"type": "array", "items": _to_json(schema.items, written, space),
                **_sorted(schema.props)}
    if isinstance(schema, Map):
        return {"type": "map", "values": _to_json(schema.values, written, space),
                **_sorted(schema.props)}
    if schema.name in written:
        return _relative(schema.name, space)
    written.add(schema.name)
    out: dict[str, Any] = {"type": "error" if isinstance(schema, Record) and schema.is_error
                           else schema.type, "name": schema.short_name}
    if schema.namespace != space:
        out["namespace"] = schema.namespace
    if schema.doc is not None:
        out["doc"] = schema.doc
    if isinstance(schema, Record):
        out["fields"] = [_field_json(f, written, schema.namespace) for f in schema.fields]
    elif isinstance(schema, Enum):
        out["symbols"] = list(schema.symbols)
        if schema.default is not None:
            out["default"] = schema.default
    elif isinstance(schema, Fixed):
        out["size"] = schema.size
    out.update(_sorted(schema.props))
    if schema.aliases:
        out["aliases"] = [_relative(alias, schema.namespace) for alias in schema.aliases]
    return out


def _field_json(fld: Field, written: set[str], space: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": fld.name, "type": _to_json(fld.schema, written, space)}
    if fld.doc is not None:
        out["doc"] = fld.doc
    if fld.has_default:
        out["default"] = fld.default
    if fld.order != "ascending":
        out["order"] = fld.order
    out.update(_sorted(fld.props))
    if fld.aliases:
        out["aliases"] = list(fld.aliases)
    return out


def _sorted(props: dict[str, Any]) -> dict[str, Any]:
    # Java keeps custom properties in the order written; sorting them makes that order not
    # matter, which is the only place we are more lenient than Confluent about "same schema".
    return dict(sorted(props.items()))
