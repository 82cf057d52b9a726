"""Reader/writer compatibility, case by case from the Avro specification's "Schema Resolution"
rules (and Java Avro 1.10+'s reading of them: enum defaults, unqualified name matching,
relative aliases). Each case is named after the rule it checks."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.avro_compat import check_level, incompatibilities
from consumer.avro_schema import parse_schema_json


def rec(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def fld(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(name: str, *symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": list(symbols), **extra}


def fixed(name: str, size: int) -> dict[str, Any]:
    return {"type": "fixed", "name": name, "size": size}


def array(items: Any) -> dict[str, Any]:
    return {"type": "array", "items": items}


def map_(values: Any) -> dict[str, Any]:
    return {"type": "map", "values": values}


LIST_NODE = rec("Node", fld("value", "int"), fld("next", ["null", "Node"], default=None))
LIST_NODE_PLUS = rec("Node", fld("value", "int"), fld("next", ["null", "Node"], default=None),
                     fld("label", "string", default=""))
LIST_NODE_REQUIRED = rec("Node", fld("value", "int"), fld("next", ["null", "Node"], default=None),
                         fld("label", "string"))
COLOR = enum("Color", "RED", "GREEN")

# (rule, reader, writer, expected incompatibility kinds: empty = compatible)
CASES: list[tuple[str, Any, Any, set[str]]] = [
    # -- primitives: same type always resolves --
    *[(f"same primitive {t} reads itself", t, t, set()) for t in
      ("null", "boolean", "int", "long", "float", "double", "bytes", "string")],
    ("primitive spelled as an object equals its name", {"type": "string"}, "string", set()),
    # -- promotions the spec allows --
    ("int is promoted to long", "long", "int", set()),
    ("int is promoted to float", "float", "int", set()),
    ("int is promoted to double", "double", "int", set()),
    ("long is promoted to float", "float", "long", set()),
    ("long is promoted to double", "double", "long", set()),
    ("float is promoted to double", "double", "float", set()),
    ("string is promoted to bytes", "bytes", "string", set()),
    ("bytes is promoted to string", "string", "bytes", set()),
    # -- no demotions, no other conversions --
    ("long is not demoted to int", "int", "long", {"TYPE_MISMATCH"}),
    ("float is not demoted to long", "long", "float", {"TYPE_MISMATCH"}),
    ("double is not demoted to float", "float", "double", {"TYPE_MISMATCH"}),
    ("float is not demoted to int", "int", "float", {"TYPE_MISMATCH"}),
    ("int does not become boolean", "boolean", "int", {"TYPE_MISMATCH"}),
    ("int does not become string", "string", "int", {"TYPE_MISMATCH"}),
    ("string does not become int", "int", "string", {"TYPE_MISMATCH"}),
    ("string does not become null", "null", "string", {"TYPE_MISMATCH"}),
    ("fixed is not promoted to bytes", "bytes", fixed("F", 4), {"TYPE_MISMATCH"}),
    ("array does not become map", map_("int"), array("int"), {"TYPE_MISMATCH"}),
    ("record does not become string", "string", rec("R", fld("a", "int")), {"TYPE_MISMATCH"}),
    # -- records: fields matched by name --
    ("record reads the same record", rec("R", fld("a", "int")), rec("R", fld("a", "int")), set()),
    ("reader field missing from writer uses its default",
     rec("R", fld("a", "int"), fld("b", "string", default="x")), rec("R", fld("a", "int")), set()),
    ("reader field missing from writer without default fails",
     rec("R", fld("a", "int"), fld("b", "string")), rec("R", fld("a", "int")),
     {"READER_FIELD_MISSING_DEFAULT_VALUE"}),
    ("writer field absent from reader is ignored",
     rec("R", fld("a", "int")), rec("R", fld("a", "int"), fld("b", "string")), set()),
    ("field order does not matter",
     rec("R", fld("b", "string"), fld("a", "int")), rec("R", fld("a", "int"), fld("b", "string")),
     set()),
    ("field types resolve recursively: promotion inside a record",
     rec("R", fld("a", "long")), rec("R", fld("a", "int")), set()),
    ("field types resolve recursively: mismatch inside a record",
     rec("R", fld("a", "int")), rec("R", fld("a", "string")), {"TYPE_MISMATCH"}),
    ("reader field alias finds the renamed writer field",
     rec("R", fld("amount", "long", aliases=["total"])), rec("R", fld("total", "long")), set()),
    ("renamed field without alias or default fails",
     rec("R", fld("amount", "long")), rec("R", fld("total", "long")),
     {"READER_FIELD_MISSING_DEFAULT_VALUE"}),
    ("renamed field without alias but with a default reads the default",
     rec("R", fld("amount", "long", default=0)), rec("R", fld("total", "long")), set()),
    ("record default of record type for a new field",
     rec("R", fld("a", "int"), fld("inner", rec("In", fld("x", "int")), default={"x": 1})),
     rec("R", fld("a", "int")), set()),
    ("array default for a new field", rec("R", fld("tags", array("string"), default=[])),
     rec("R"), set()),
    ("nested record: new inner field with default",
     rec("R", fld("in", rec("In", fld("x", "int"), fld("y", "int", default=0)))),
     rec("R", fld("in", rec("In", fld("x", "int")))), set()),
    ("nested record: new inner field without default",
     rec("R", fld("in", rec("In", fld("x", "int"), fld("y", "int")))),
     rec("R", fld("in", rec("In", fld("x", "int")))), {"READER_FIELD_MISSING_DEFAULT_VALUE"}),
    # -- named types: names and aliases --
    ("record names must match", rec("A", fld("a", "int")), rec("B", fld("a", "int")),
     {"NAME_MISMATCH"}),
    ("reader alias with full name matches the writer's name",
     rec("B", fld("a", "int"), aliases=["ns.A"]), rec("A", fld("a", "int"), namespace="ns"), set()),
    ("relative alias resolves in the reader's namespace",
     rec("New", fld("a", "int"), namespace="com.x", aliases=["Old"]),
     rec("Old", fld("a", "int"), namespace="com.x"), set()),
    ("relative alias does not match another namespace",
     rec("New", fld("a", "int"), namespace="com.x", aliases=["Old"]),
     rec("Old", fld("a", "int"), namespace="com.y"), {"NAME_MISMATCH"}),
    ("unqualified names are compared (Java Avro 1.10+)",
     rec("A", fld("a", "int"), namespace="one"), rec("A", fld("a", "int"), namespace="two"), set()),
    ("only reader aliases count, not writer aliases",
     rec("B", fld("a", "int")), rec("A", fld("a", "int"), aliases=["B"]), {"NAME_MISMATCH"}),
    ("namespace given in the name equals a namespace attribute",
     rec("com.x.R", fld("a", "int")), rec("R", fld("a", "int"), namespace="com.x"), set()),
    # -- enums --
    ("enum reads the same enum", COLOR, COLOR, set()),
    ("writer symbol unknown to reader without enum default fails",
     COLOR, enum("Color", "RED", "GREEN", "BLUE"), {"MISSING_ENUM_SYMBOLS"}),
    ("writer symbol unknown to reader reads as the enum default",
     enum("Color", "RED", "GREEN", default="RED"), enum("Color", "RED", "GREEN", "BLUE"), set()),
    ("reader may have more symbols than the writer", enum("Color", "RED", "GREEN", "BLUE"), COLOR,
     set()),
    ("enum symbol order does not matter", enum("Color", "GREEN", "RED"), COLOR, set()),
    ("enum names must match", enum("Colour", "RED", "GREEN"), COLOR, {"NAME_MISMATCH"}),
    ("enum alias matches a renamed enum", enum("Colour", "RED", "GREEN", aliases=["Color"]),
     COLOR, set()),
    ("enum does not become string", "string", COLOR, {"TYPE_MISMATCH"}),
    # -- fixed --
    ("fixed reads the same fixed", fixed("F", 16), fixed("F", 16), set()),
    ("fixed sizes must match", fixed("F", 16), fixed("F", 8), {"FIXED_SIZE_MISMATCH"}),
    ("fixed names must match", fixed("G", 16), fixed("F", 16), {"NAME_MISMATCH"}),
    # -- arrays and maps: items and values resolve recursively --
    ("array items are promoted", array("long"), array("int"), set()),
    ("array items are not demoted", array("int"), array("long"), {"TYPE_MISMATCH"}),
    ("map values are promoted", map_("double"), map_("float"), set()),
    ("map values must resolve", map_("int"), map_("string"), {"TYPE_MISMATCH"}),
    ("map of records with a new defaulted field",
     map_(rec("V", fld("a", "int"), fld("b", "int", default=1))), map_(rec("V", fld("a", "int"))),
     set()),
    ("array of records with a new required field",
     array(rec("V", fld("a", "int"), fld("b", "int"))), array(rec("V", fld("a", "int"))),
     {"READER_FIELD_MISSING_DEFAULT_VALUE"}),
    # -- unions --
    ("reader union holding the writer's type", ["null", "string"], "string", set()),
    ("reader union lacking the writer's type", ["null", "string"], "int", {"MISSING_UNION_BRANCH"}),
    ("reader union branch reached by promotion", ["null", "long"], "int", set()),
    ("writer union whose every branch the reader reads", "long", ["int", "long"], set()),
    ("writer union with a branch the reader cannot read", "string", ["null", "string"],
     {"TYPE_MISMATCH"}),
    ("union to union: reader has every writer branch", ["null", "string", "int"],
     ["null", "string"], set()),
    ("union to union: reader lacks a writer branch", ["null", "string"], ["null", "string", "int"],
     {"MISSING_UNION_BRANCH"}),
    ("union branch order does not matter", ["string", "null"], ["null", "string"], set()),
    ("union of records matched by name",
     ["null", rec("A", fld("a", "long"))], ["null", rec("A", fld("a", "int"))], set()),
    ("union of records with a renamed record fails",
     ["null", rec("B", fld("a", "int"))], ["null", rec("A", fld("a", "int"))],
     {"MISSING_UNION_BRANCH"}),
    ("optional field made required fails on null",
     rec("R", fld("a", "string", default="")), rec("R", fld("a", ["null", "string"], default=None)),
     {"TYPE_MISMATCH"}),
    ("required field made optional", rec("R", fld("a", ["null", "string"], default=None)),
     rec("R", fld("a", "string")), set()),
    # -- recursive and repeated named types --
    ("recursive record reads itself", LIST_NODE, LIST_NODE, set()),
    ("recursive record with a new defaulted field", LIST_NODE_PLUS, LIST_NODE, set()),
    ("recursive record with a new required field", LIST_NODE_REQUIRED, LIST_NODE,
     {"READER_FIELD_MISSING_DEFAULT_VALUE"}),
    ("named type used twice by reference",
     rec("R", fld("a", COLOR), fld("b", "Color")), rec("R", fld("a", COLOR), fld("b", "Color")),
     set()),
    ("reference to a named type resolves like its definition",
     rec("R", fld("a", COLOR), fld("b", "Color")),
     rec("R", fld("a", COLOR), fld("b", enum("Color2", "RED"))), {"NAME_MISMATCH"}),
]


def test_the_table_covers_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert len({rule for rule, *_ in CASES}) == len(CASES), "each case names its own rule"


@pytest.mark.parametrize(("rule", "reader", "writer", "expected"), CASES,
                         ids=[case[0] for case in CASES])
def test_resolution_rule(rule, reader, writer, expected):
    found = incompatibilities(parse_schema_json(reader).root, parse_schema_json(writer).root)
    assert {problem.kind for problem in found} == expected, [str(p) for p in found]


def test_a_problem_says_where_and_what():
    reader = parse_schema_json(rec("R", fld("a", "int"), fld("in", rec("In", fld("y", "int")))))
    writer = parse_schema_json(rec("R", fld("a", "string"), fld("in", rec("In"))))
    messages = sorted(str(p) for p in incompatibilities(reader.root, writer.root))
    assert messages[0].startswith("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1/type/fields/0")
    assert "'y'" in messages[0]
    assert messages[1] == ("TYPE_MISMATCH at /fields/0/type: reader type int is not compatible "
                           "with writer type string")


V1 = parse_schema_json(rec("R", fld("a", "int"))).root
V2 = parse_schema_json(rec("R", fld("a", "int"), fld("b", "int", default=0))).root
V3 = parse_schema_json(rec("R", fld("b", "int", default=0))).root  # drops a
VC = parse_schema_json(rec("R", fld("a", "int"), fld("c", "int"))).root  # needs c


@pytest.mark.parametrize(("level", "new", "previous", "compatible"), [
    ("NONE", V1, [(1, V3)], True),
    ("BACKWARD", V2, [(1, V1)], True),
    ("FORWARD", V2, [(1, V1)], True),
    ("FULL", V2, [(1, V1)], True),
    # V1 as a new version after V2: V1 reads V2 data (drops b) but V2 data lacks nothing V1 needs
    ("BACKWARD", V1, [(1, V2)], True),
    # V3 after V1: reading V1 data with V3 is fine (b defaults); V1 cannot read V3 data (no a)
    ("BACKWARD", V3, [(1, V1)], True),
    ("FORWARD", V3, [(1, V1)], False),
    ("FULL", V3, [(1, V1)], False),
    # Non-transitive levels look at the latest version only; transitive ones at all of them.
    ("FORWARD", V2, [(1, VC), (2, V1)], True),
    ("FORWARD_TRANSITIVE", V2, [(1, VC), (2, V1)], False),
    ("FULL", V2, [(1, VC), (2, V1)], True),
    ("FULL_TRANSITIVE", V2, [(1, VC), (2, V1)], False),
    ("BACKWARD_TRANSITIVE", V2, [(1, VC), (2, V1)], True),
    ("FULL_TRANSITIVE", V2, [(1, V1), (2, V2)], True),
    ("BACKWARD", V1, [], True),
])
def test_levels(level, new, previous, compatible):
    assert (check_level(level, new, previous) == []) is compatible


def test_level_reasons_name_the_version_and_direction():
    reasons = check_level("FORWARD_TRANSITIVE", V2, [(1, VC), (2, V1)])
    assert reasons == [
        "FORWARD_TRANSITIVE: version 1 cannot read data written with the new schema: "
        "READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field 'c' of R has no default "
        "value and the writer has no such field"]
