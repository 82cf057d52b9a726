"""A writer schema as a reading plan: one tuple per schema node, its kind first, named types and
logical types resolved once. The C reader (``_avro_native.c``) and the generated Python reader
(``avro_reader``) both read records by walking it.

    (NULL,) (BOOLEAN,) (LONG,) (FLOAT,) (DOUBLE,) (BYTES,) (STRING,)   int and long are one kind
    (RECORD, (field names...), (field plans...))      (ENUM, (symbols...))     (FIXED, size)
    (ARRAY, item plan)   (MAP, value plan)            (UNION, (branch plans...))
    (TIMESTAMP_MILLIS,) (TIMESTAMP_MICROS,)           a long read as an aware UTC datetime
    (LOGICAL, plan, converter, schema)                fastavro's converter(value, schema, None)

``plan_of`` raises ``Unsupported`` for what it leaves to fastavro: recursive types (a plan is a
finite tree), arrays and maps whose items can take no bytes (a count could not be checked
against the bytes left), and anything it does not know.
"""

from __future__ import annotations

from typing import Any

from fastavro.read import LOGICAL_READERS

Plan = tuple[Any, ...]

(NULL, BOOLEAN, LONG, FLOAT, DOUBLE, BYTES, STRING, RECORD, ENUM, FIXED, ARRAY, MAP, UNION,
 TIMESTAMP_MILLIS, TIMESTAMP_MICROS, LOGICAL) = range(16)   # as in _avro_native.c

PRIMITIVES = {"null": NULL, "boolean": BOOLEAN, "int": LONG, "long": LONG, "float": FLOAT,
              "double": DOUBLE, "bytes": BYTES, "string": STRING}


class Unsupported(Exception):
    """Raised while planning: this schema is left to fastavro."""


def plan_of(parsed: Any) -> Plan:
    """The plan of fastavro's parsed form of a writer schema."""
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    return _Planner(named).node(parsed)


def min_bytes(plan: Plan) -> int:
    """0 when a value of this plan can be written in no bytes, else more than 0."""
    kind = plan[0]
    if kind == NULL:
        return 0
    if kind == RECORD:
        return max((min_bytes(field) for field in plan[2]), default=0)
    if kind == FIXED:
        return int(plan[1])
    if kind == LOGICAL:
        return min_bytes(plan[1])
    return 1


class _Planner:
    def __init__(self, named: dict[str, Any]) -> None:
        self.named = named
        self._open: set[str] = set()   # records being planned, by full name

    def node(self, schema: Any) -> Plan:
        if isinstance(schema, list):
            return (UNION, tuple(self.node(branch) for branch in schema))
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return (PRIMITIVES[schema],)
            if schema in self._open or schema not in self.named:
                raise Unsupported(schema)   # a record referring back to itself recurses
            return self.node(self.named[schema])
        kind = schema.get("type")
        plan: Plan
        if kind in PRIMITIVES:
            plan = (PRIMITIVES[kind],)
        elif kind in ("record", "error"):
            plan = self.record(schema)
        elif kind == "enum":
            plan = (ENUM, tuple(schema["symbols"]))
        elif kind == "fixed":
            plan = (FIXED, int(schema["size"]))
        elif kind in ("array", "map"):
            items = self.node(schema["values" if kind == "map" else "items"])
            if min_bytes(items) == 0:
                raise Unsupported("items that can take no bytes")
            plan = (MAP if kind == "map" else ARRAY, items)
        else:
            raise Unsupported(kind)
        if "logicalType" in schema:
            return self.logical(schema, f"{kind}-{schema['logicalType']}", plan)
        return plan

    def record(self, schema: dict[str, Any]) -> Plan:
        self._open.add(schema["name"])
        fields = tuple(self.node(field["type"]) for field in schema["fields"])
        self._open.discard(schema["name"])
        return (RECORD, tuple(field["name"] for field in schema["fields"]), fields)

    @staticmethod
    def logical(schema: dict[str, Any], key: str, plan: Plan) -> Plan:
        if key == "long-timestamp-millis":
            return (TIMESTAMP_MILLIS,)
        if key == "long-timestamp-micros":
            return (TIMESTAMP_MICROS,)
        if key in LOGICAL_READERS:
            return (LOGICAL, plan, LOGICAL_READERS[key], schema)
        return plan   # a logical type fastavro does not know reads as its underlying type
