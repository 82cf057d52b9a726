"""`consumer produce` writes JSON lines as Avro v2 records in the Confluent wire format (key and
message-id header from fields); a consumer reading with the v1 schema decodes them, and corrupt
payloads and unknown schema ids on the same topic come out as classified data errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from consumer.avro_codec import AvroDecoder
from consumer.errors import DecodeError, FramingError, UnknownSchemaError
from consumer.registry_client import RegistryClient
from tests.support.kafka import create_topic, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
V1 = json.loads((SCHEMAS / "orders-v1.avsc").read_text())


def order(n: int) -> dict[str, object]:
    return {"order_id": f"o-{n}", "customer_id": f"c-{n % 3}", "status": "REFUNDED",
            "amount_cents": 1000 + n, "currency": "EUR", "discount_cents": n,
            "items": [{"sku": f"sku-{n}", "quantity": 1, "unit_price_cents": 1000 + n}],
            "shipping_country": "NL", "created_at": 1763769600000 + n,
            "coupon_code": None if n % 2 else "SPRING"}


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], capture_output=True,
                          text=True, timeout=90, env={"CONSUMER_HOME": str(home),
                                                      "PATH": "/usr/bin:/bin"})


def read_all(bootstrap: str, topic: str, count: int) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got: list = []
    try:
        for _ in range(100):
            got += [m for m in consumer.consume(count, 0.5) if m.error() is None]
            if len(got) >= count:
                break
    finally:
        consumer.close()
    return got


def test_v2_records_decode_as_v1_and_bad_payloads_are_data_errors(bootstrap, registry_url,
                                                                   unique, tmp_path):
    topic, subject = f"orders-{unique}", f"orders-{unique}-value"
    create_topic(bootstrap, topic, 1)
    for version in (1, 2):
        registered = cli("schemas", "register", str(SCHEMAS / f"orders-v{version}.avsc"),
                         "--subject", subject, "--registry", registry_url, home=tmp_path)
        assert registered.returncode == 0, registered.stderr

    lines = tmp_path / "orders.jsonl"
    lines.write_text("\n".join(json.dumps(order(n)) for n in range(20)) + "\n\n")
    done = cli("produce", "--topic", topic, "--subject", subject, str(lines), "--key-field",
               "customer_id", "--id-field", "order_id", "--json", "--bootstrap", bootstrap,
               "--registry", registry_url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["produced"] == 20

    # Framing garbage, an id the registry never gave, and v2 bytes cut short.
    records = read_all(bootstrap, topic, 20)
    valid = records[0].value()
    produce(bootstrap, topic, [(None, b"plain text", None),
                               (None, b"\x00\x00\x0f\x42\x40" + valid[5:], None),
                               (None, valid[:-6], None)])
    records = read_all(bootstrap, topic, 23)
    assert len(records) == 23

    with RegistryClient(registry_url) as registry:
        as_v1 = AvroDecoder(registry, V1)
        for n, message in enumerate(records[:20]):
            value, schema_id = as_v1.decode(message.value())
            assert schema_id == summary["schema_id"]
            assert set(value) == {f["name"] for f in V1["fields"]}
            assert value["order_id"] == f"o-{n}" and value["amount_cents"] == 1000 + n
            assert value["status"] == "UNKNOWN"  # REFUNDED is v2's: v1 reads its enum default
            assert message.key() == f"c-{n % 3}".encode()
            assert dict(message.headers()) == {"message-id": f"o-{n}".encode()}
        errors = []
        for message in records[20:]:
            with pytest.raises((FramingError, UnknownSchemaError, DecodeError)) as caught:
                as_v1.decode(message.value())
            errors.append(caught.value.reason)
        assert errors == ["framing", "unknown_schema", "decode"]
