"""Our registry server driven by Confluent's own Python client (confluent-kafka 2.16):
register, lookup, latest, versions, ids, compatibility at every level, config, deletes, and the
Avro serializer/deserializer round trip with its association lookup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
V1, V2, V3 = ((SCHEMAS / f"orders-v{n}.avsc").read_text() for n in (1, 2, 3))


def avro(text: str) -> Schema:
    return Schema(text, "AVRO")


def rec(*fields: tuple[str, str], **defaults: object) -> str:
    """A record R with (name, type) fields; ``defaults`` gives some of them a default."""
    return json.dumps({"type": "record", "name": "R", "fields": [
        {"name": n, "type": t, **({"default": defaults[n]} if n in defaults else {})}
        for n, t in fields]})


@pytest.fixture
def client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    made = SchemaRegistryClient({"url": registry_url})
    yield made
    made.__exit__()


def fresh(registry_url: str) -> SchemaRegistryClient:
    """A client without caches, so every call reaches the server."""
    return SchemaRegistryClient({"url": registry_url})


def error_of(call) -> tuple[int, int]:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value.http_status_code, caught.value.error_code


def test_register_lookup_latest_versions_and_ids(client, registry_url, unique):
    subject = f"orders-{unique}-value"
    id1 = client.register_schema(subject, avro(V1))
    id2 = client.register_schema(subject, avro(V2))
    assert id2 != id1

    reader = fresh(registry_url)
    latest = reader.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (2, id2)
    assert json.loads(latest.schema.schema_str)["fields"][-1]["name"] == "coupon_code"
    assert reader.get_versions(subject) == [1, 2]
    assert reader.get_version(subject, 1).schema_id == id1
    assert subject in reader.get_subjects()
    assert json.loads(reader.get_schema(id1).schema_str)["name"] == "Order"
    # Other tests of the session may register the same schema under their own subjects.
    assert (subject, 2) in [(v.subject, v.version) for v in reader.get_schema_versions(id2)]
    found = reader.lookup_schema(subject, avro(json.dumps(json.loads(V1), indent=4)))
    assert (found.version, found.schema_id) == (1, id1)
    assert reader.get_schema_types() == ["AVRO"]
    assert reader.get_global_mode() == "READWRITE"


def test_same_schema_same_id_across_subjects_and_no_new_version(client, registry_url, unique):
    first = client.register_schema(f"a-{unique}", avro(V1))
    # Another layout and key order of the same schema, under another subject: same id.
    relaid = json.dumps(dict(reversed(list(json.loads(V1).items()))), indent=1)
    again = fresh(registry_url)
    assert again.register_schema(f"b-{unique}", avro(relaid)) == first
    assert again.register_schema(f"a-{unique}", avro(relaid)) == first
    assert again.get_versions(f"a-{unique}") == [1]
    assert again.get_latest_version(f"b-{unique}").version == 1


@pytest.mark.parametrize(("level", "new", "accepted"), [
    # previous versions: (a), then (a, b=0)
    ("NONE", rec(("z", "string")), True),
    ("BACKWARD", rec(("a", "int"), ("b", "int"), ("c", "int"), b=0, c=0), True),
    ("BACKWARD", rec(("a", "int"), ("b", "int"), ("c", "int"), b=0), False),
    ("BACKWARD_TRANSITIVE", rec(("a", "int"), ("b", "int"), b=0), True),
    ("BACKWARD_TRANSITIVE", rec(("b", "int"), b=0), True),
    ("FORWARD", rec(("a", "int"), ("b", "int")), True),
    ("FORWARD", rec(("b", "int"), b=0), False),
    ("FORWARD_TRANSITIVE", rec(("a", "long")), False),
    ("FULL", rec(("a", "int"), ("b", "int"), ("c", "int"), b=0, c=0), True),
    ("FULL", rec(("a", "int"), ("b", "int"), ("c", "int"), b=0), False),
    ("FULL_TRANSITIVE", rec(("a", "int"), ("b", "int"), ("d", "string"), b=0, d=""), True),
    ("FULL_TRANSITIVE", rec(("a", "int")), True),
])
def test_compatibility_levels(client, registry_url, unique, level, new, accepted):
    subject = f"levels-{unique}"
    assert client.set_compatibility(subject, level)["compatibility"] == level
    client.register_schema(subject, avro(rec(("a", "int"))))
    client.register_schema(subject, avro(rec(("a", "int"), ("b", "int"), b=0)))
    checker = fresh(registry_url)
    assert checker.get_compatibility(subject) == level
    assert checker.test_compatibility(subject, avro(new)) is accepted
    if accepted:
        assert checker.register_schema(subject, avro(new)) > 0
    else:
        assert error_of(lambda: checker.register_schema(subject, avro(new)))[0] == 409


def test_compatibility_against_one_named_version(client, unique):
    subject = f"named-{unique}"
    client.set_compatibility(subject, "BACKWARD_TRANSITIVE")
    client.register_schema(subject, avro(rec(("a", "int"))))
    client.register_schema(subject, avro(rec(("a", "int"), ("b", "int"), b=0)))
    # Needs b, which version 1 lacks: incompatible with 1, fine against version 2 alone.
    needs_b = avro(rec(("a", "int"), ("b", "int")))
    assert client.test_compatibility(subject, needs_b, version=2) is True
    assert client.test_compatibility(subject, needs_b, version=1) is False
    assert client.test_compatibility(subject, needs_b) is False
    assert client.test_compatibility_all_versions(subject, needs_b) is False
    assert error_of(lambda: client.test_compatibility(subject, needs_b, version=9)) == (404, 40402)
    assert client.test_compatibility(f"nothing-{unique}", needs_b) is True


def test_the_example_orders_schemas_evolve_as_documented(client, unique):
    subject = f"orders-{unique}-value"
    client.set_compatibility(subject, "FULL_TRANSITIVE")
    client.register_schema(subject, avro(V1))
    assert client.test_compatibility(subject, avro(V2)) is True
    client.register_schema(subject, avro(V2))
    for level in ("BACKWARD", "FORWARD", "FULL"):
        client.set_compatibility(subject, level)
        assert client.test_compatibility(subject, avro(V3)) is False, level


def test_global_and_subject_config(client, registry_url, unique):
    subject = f"config-{unique}"
    assert error_of(lambda: client.get_compatibility(subject)) == (404, 40408)
    original = client.get_compatibility()
    try:
        assert client.set_compatibility(level="FORWARD")["compatibility"] == "FORWARD"
        assert fresh(registry_url).get_compatibility() == "FORWARD"
        client.set_compatibility(subject, "NONE")
        assert fresh(registry_url).get_compatibility(subject) == "NONE"
        assert error_of(lambda: client.set_compatibility(subject, "SIDEWAYS")) == (422, 42203)
        assert client.delete_config(subject).compatibility_level.value == "NONE"
        assert error_of(lambda: client.get_compatibility(subject)) == (404, 40408)
    finally:
        client.set_compatibility(level=original)


def test_soft_and_permanent_deletes(client, registry_url, unique):
    subject = f"deletes-{unique}"
    client.set_compatibility(subject, "NONE")
    id1 = client.register_schema(subject, avro(rec(("a", "int"))))
    id2 = client.register_schema(subject, avro(rec(("z", "string"))))

    c = fresh(registry_url)
    assert error_of(lambda: c.delete_version(subject, 2, permanent=True)) == (404, 40407)
    assert c.delete_version(subject, 2) == 2
    assert error_of(lambda: c.delete_version(subject, 2)) == (404, 40406)
    assert c.get_versions(subject) == [1]
    assert json.loads(c.get_schema(id2).schema_str)["fields"][0]["name"] == "z"  # still served
    assert error_of(lambda: c.lookup_schema(subject, avro(rec(("z", "string"))))) == (404, 40403)

    assert error_of(lambda: c.delete_subject(subject, permanent=True)) == (404, 40405)
    assert c.delete_subject(subject) == [1]
    assert error_of(lambda: c.delete_subject(subject)) == (404, 40404)
    assert error_of(lambda: c.get_versions(subject)) == (404, 40401)
    assert subject not in c.get_subjects()

    # Re-registering a soft-deleted schema: the old id, a new version number.
    again = fresh(registry_url)
    assert again.register_schema(subject, avro(rec(("a", "int")))) == id1
    assert again.get_latest_version(subject).version == 3

    again.delete_subject(subject)
    assert sorted(again.delete_subject(subject, permanent=True)) == [1, 2, 3]
    assert error_of(lambda: again.get_versions(subject)) == (404, 40401)
    assert error_of(lambda: again.get_schema(10**6)) == (404, 40403)


def test_avro_serializer_round_trip(registry_url, unique):
    topic = f"orders-{unique}"
    order = {"order_id": "o-1", "customer_id": "c-1", "status": "PAID", "amount_cents": 999,
             "currency": "EUR", "items": [{"sku": "s", "quantity": 1, "unit_price_cents": 999}],
             "shipping_country": "SE", "created_at": 1763769600000}
    context = SerializationContext(topic, MessageField.VALUE)
    # Since 2.14 both first ask /associations/...; a 404 there means "use {topic}-value".
    payload = AvroSerializer(fresh(registry_url), V1)(order, context)
    assert payload[0] == 0
    schema_id = int.from_bytes(payload[1:5], "big")
    assert fresh(registry_url).get_latest_version(f"{topic}-value").schema_id == schema_id
    decoded = AvroDeserializer(fresh(registry_url))(payload, context)
    assert decoded["order_id"] == "o-1" and decoded["created_at"].year == 2025
