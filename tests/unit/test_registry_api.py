"""Request details the registry reads the way Confluent's JAX-RS server does."""

from __future__ import annotations

import pytest

from consumer.errors import RegistryError
from consumer.registry_api import LATEST, Query, check_subject, parse_version, schema_from_body


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("True", True), ("TRUE", True), (" true ", True),
    ("false", False), ("False", False), ("yes", False), ("1", False), ("", False),
])
def test_booleans_are_read_case_insensitively(raw, expected):
    assert Query({"deleted": [raw]}).flag("deleted") is expected


def test_a_missing_or_unreadable_parameter_is_its_default():
    query = Query({"limit": ["lots"]})
    assert query.flag("permanent") is False
    assert query.number("limit", -1) == -1 and query.number("offset", 0) == 0


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", 1), ("latest", LATEST), ("LATEST", LATEST), (" latest ", LATEST), ("2147483647", 2**31 - 1),
])
def test_versions(raw, expected):
    assert parse_version(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "2147483648", "one", "1.0", ""])
def test_invalid_versions_are_42202(raw):
    with pytest.raises(RegistryError) as caught:
        parse_version(raw)
    assert (caught.value.status, caught.value.error_code) == (422, 42202)


@pytest.mark.parametrize("subject", ["", " ", "a\nb", "__GLOBAL", "__EMPTY"])
def test_invalid_subjects_are_42208(subject):
    with pytest.raises(RegistryError) as caught:
        check_subject(subject)
    assert caught.value.error_code == 42208


@pytest.mark.parametrize(("body", "message"), [
    (None, "non-empty \"schema\" string"),
    ([], "non-empty \"schema\" string"),
    ({"schema": ""}, "non-empty \"schema\" string"),
    ({"schema": 5}, "non-empty \"schema\" string"),
    ({"schema": '"int"', "schemaType": "PROTOBUF"}, "AVRO only"),
    ({"schema": '"int"', "references": [{"name": "a", "subject": "b", "version": 1}]},
     "references are not supported"),
    ({"schema": '{"type": "nope"}'}, "unknown type 'nope'"),
])
def test_bodies_that_are_not_an_avro_schema_are_42201(body, message):
    with pytest.raises(RegistryError, match=message) as caught:
        schema_from_body(body)
    assert caught.value.error_code == 42201


def test_schema_type_avro_is_accepted_in_any_case():
    assert schema_from_body({"schema": '"int"', "schemaType": "avro", "references": []}).canonical == '"int"'
