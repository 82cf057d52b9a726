"""Parsing Avro schemas: what is rejected (with a message naming the problem), field defaults
checked against their types, and the canonical text that decides "same schema"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.avro_schema import parse_schema, parse_schema_json
from consumer.errors import InvalidSchemaError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def record(*fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": list(fields), **extra}


@pytest.mark.parametrize(("schema", "message"), [
    ("{not json", "not valid JSON"),
    ('{"type": "double", "default": NaN}', "not valid JSON"),
    ({"type": "recrod", "name": "R", "fields": []}, "unknown type 'recrod'"),
    ({"type": "record", "fields": []}, "record name"),
    ({"type": "record", "name": "1R", "fields": []}, "not a valid Avro name"),
    ({"type": "record", "name": "R"}, '"fields" must be an array'),
    (record({"name": "a"}), "field 'a' has no type"),
    (record({"name": "a", "type": "int"}, {"name": "a", "type": "long"}), "defined twice"),
    (record({"name": "a", "type": "Missing"}), "undefined type name 'Missing'"),
    (record({"name": "a", "type": "int", "order": "up"}), "order must be one of"),
    ({"type": "enum", "name": "E", "symbols": ["A", "A"]}, "duplicate symbols"),
    ({"type": "enum", "name": "E", "symbols": ["A"], "default": "B"}, "not one of its symbols"),
    ({"type": "enum", "name": "E", "symbols": ["1A"]}, "not a valid Avro name"),
    ({"type": "fixed", "name": "F"}, '"size" must be a non-negative integer'),
    ({"type": "array"}, 'array has no "items"'),
    ({"type": "map"}, 'map has no "values"'),
    (["int", "int"], "union contains 'int' twice"),
    (["null", ["int"]], "may not directly contain a union"),
    (record({"name": "a", "type": record()}), "type 'R' is defined twice"),
    ({"type": "record", "name": "int", "fields": []}, "may not be called 'int'"),
    (42, "expected a type name"),
])
def test_invalid_schemas_are_rejected_with_the_reason(schema, message):
    text = schema if isinstance(schema, str) else json.dumps(schema)
    with pytest.raises(InvalidSchemaError, match=message.replace("(", r"\(")):
        parse_schema(text)


@pytest.mark.parametrize(("type_", "default", "valid"), [
    ("string", None, False),  # Confluent's testRegisterBadDefault
    ("string", "x", True),
    ("null", None, True),
    ("boolean", 0, False),
    ("boolean", False, True),
    ("int", 1.5, False),
    ("int", 2**31, False),
    ("int", -(2**31), True),
    ("int", True, False),
    ("long", 2**40, True),
    ("long", "1", False),
    ("float", 1, True),
    ("double", 1.5, True),
    ("double", "1.5", False),
    ("bytes", "\u00ff", True),
    ({"type": "fixed", "name": "F", "size": 2}, "ab", True),
    ({"type": "enum", "name": "E", "symbols": ["A"]}, 1, False),
    ({"type": "array", "items": "int"}, [1, 2], True),
    ({"type": "array", "items": "int"}, [1, "x"], False),
    ({"type": "map", "values": "long"}, {"a": 1}, True),
    ({"type": "map", "values": "long"}, [1], False),
    (["null", "string"], None, True),
    (["null", "string"], "x", True),  # Java Avro: a union default may match any branch
    (["null", "string"], 1, False),
    (record({"name": "x", "type": "int"}), {"x": 1}, True),
    (record({"name": "x", "type": "int"}), {}, False),
    (record({"name": "x", "type": "int", "default": 0}), {}, True),
])
def test_field_defaults_must_fit_their_type(type_, default, valid):
    schema = json.dumps({"type": "record", "name": "Outer",
                         "fields": [{"name": "f", "type": type_, "default": default}]})
    if valid:
        parse_schema(schema)
    else:
        with pytest.raises(InvalidSchemaError, match="invalid default for field 'f'"):
            parse_schema(schema)


ORDER = {"type": "record", "name": "Order", "namespace": "shop",
         "fields": [{"name": "id", "type": "string"},
                    {"name": "total", "type": {"type": "long"}, "default": 0},
                    {"name": "tags", "type": {"type": "array", "items": "string"}}]}


def canonical(schema: Any) -> str:
    return parse_schema_json(schema).canonical


@pytest.mark.parametrize("same", [
    {**ORDER, "fields": [{"type": "string", "name": "id"}, *ORDER["fields"][1:]]},  # key order
    {**ORDER, "name": "shop.Order"},
    {k: v for k, v in ORDER.items() if k != "namespace"} | {"name": "shop.Order"},
    {**ORDER, "fields": [{"name": "id", "type": {"type": "string"}}, *ORDER["fields"][1:]]},
])
def test_spellings_of_the_same_schema_have_one_identity(same):
    assert canonical(same) == canonical(ORDER)


@pytest.mark.parametrize("different", [
    {**ORDER, "doc": "an order"},
    {**ORDER, "aliases": ["Purchase"]},
    {**ORDER, "fields": [ORDER["fields"][0], {**ORDER["fields"][1], "default": 1},
                         ORDER["fields"][2]]},
    {**ORDER, "fields": list(reversed(ORDER["fields"]))},
    {**ORDER, "fields": [ORDER["fields"][0], {**ORDER["fields"][1], "doc": "cents"},
                         ORDER["fields"][2]]},
    {**ORDER, "owner": "team-a"},
    {**ORDER, "namespace": "other"},
])
def test_doc_aliases_defaults_order_and_properties_make_another_schema(different):
    assert canonical(different) != canonical(ORDER)


def test_canonical_text_is_compact_java_style():
    assert canonical(ORDER) == (
        '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id",'
        '"type":"string"},{"name":"total","type":"long","default":0},{"name":"tags","type":'
        '{"type":"array","items":"string"}}]}')


def test_named_types_are_written_once_then_by_name():
    schema = {"type": "record", "name": "a.Outer", "fields": [
        {"name": "x", "type": {"type": "enum", "name": "b.E", "symbols": ["A"]}},
        {"name": "y", "type": "b.E"},
        {"name": "z", "type": {"type": "fixed", "name": "F", "size": 2}},
        {"name": "w", "type": "F"}]}
    text = canonical(schema)
    assert text.count('"symbols"') == 1 and '"type":"b.E"' in text and '"type":"F"' in text
    assert canonical(json.loads(text)) == text


@pytest.mark.parametrize("name", ["orders-v1.avsc", "orders-v2.avsc", "orders-v3.avsc"])
def test_the_example_schemas_are_valid(name):
    parsed = parse_schema((SCHEMAS / name).read_text())
    assert parsed.definition["name"] == "Order"


# -- property: the canonical text does not depend on how the JSON is laid out ---------------
names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
primitive = st.sampled_from(["null", "boolean", "int", "long", "float", "double", "bytes",
                             "string"])
field_types = st.one_of(primitive, primitive.map(lambda t: {"type": t}),
                        primitive.map(lambda t: {"type": "array", "items": t}),
                        primitive.map(lambda t: {"type": "map", "values": t}))
records = st.lists(st.tuples(names, field_types, st.one_of(st.none(), st.text(max_size=5))),
                   max_size=6, unique_by=lambda f: f[0]).map(
    lambda fields: {"type": "record", "name": "R", "namespace": "p.q",
                    "fields": [{"name": n, "type": t, **({"doc": d} if d else {})}
                               for n, t, d in fields]})


def _shuffled(node: Any, draw: Any) -> Any:
    if isinstance(node, dict):
        keys = draw(st.permutations(list(node)))
        return {k: _shuffled(node[k], draw) for k in keys}
    if isinstance(node, list):
        return [_shuffled(v, draw) for v in node]
    return node


@given(records, st.data(), st.sampled_from([None, 2, "\t"]))
def test_layout_and_key_order_never_change_the_identity(schema, data, indent):
    text = canonical(schema)
    relaid = json.dumps(_shuffled(schema, data.draw), indent=indent)
    assert parse_schema(relaid).canonical == text
    assert canonical(json.loads(text)) == text  # and the canonical text is its own canonical
