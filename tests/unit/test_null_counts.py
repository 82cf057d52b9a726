from __future__ import annotations

from consumer.null_counts import count_nulls, nullable_fields

ORDER = {
    "type": "record", "name": "Order",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "coupon", "type": ["string", {"type": "null"}]},
        {"name": "note", "type": "null"},
        {"name": "items", "type": {"type": "array", "items": "string"}},
    ],
}


def test_nullable_fields_are_those_whose_type_admits_null():
    assert nullable_fields(ORDER) == ("email", "coupon", "note")


def test_a_schema_that_is_not_a_record_has_no_fields():
    assert nullable_fields({"type": "string"}) == ()


def test_nulls_are_counted_per_field_missing_fields_included():
    records = [{"email": None, "coupon": "X"}, {"email": "a@b", "coupon": None}, {"email": None}]
    assert count_nulls(records, ("email", "coupon")) == {"email": 2, "coupon": 2}
