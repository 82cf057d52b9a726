"""`consumer produce` checks every line before sending: a line that is not JSON, or a record
that does not fit the schema, is one error naming the line (exit 2) and nothing is produced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.kafka import create_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ORDER = {"order_id": "o-1", "customer_id": "c-1", "status": "PAID", "amount_cents": 1000,
         "currency": "EUR", "discount_cents": 0,
         "items": [{"sku": "sku-1", "quantity": 1, "unit_price_cents": 1000}],
         "shipping_country": "NL", "created_at": 1763769600000, "coupon_code": None}


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], capture_output=True,
                          text=True, timeout=90, env={"CONSUMER_HOME": str(home),
                                                      "PATH": "/usr/bin:/bin"})


def test_a_bad_line_sends_nothing(bootstrap, registry_url, unique, tmp_path):
    topic, subject = f"bad-{unique}", f"bad-{unique}-value"
    create_topic(bootstrap, topic, 1)
    assert cli("schemas", "register", str(SCHEMAS / "orders-v2.avsc"), "--subject", subject,
               "--registry", registry_url, home=tmp_path).returncode == 0
    lines = tmp_path / "orders.jsonl"
    lines.write_text(json.dumps(ORDER) + "\n"
                     + json.dumps({**ORDER, "amount_cents": "12.50"}) + "\n")
    done = cli("produce", "--topic", topic, "--subject", subject, str(lines), "--bootstrap",
               bootstrap, "--registry", registry_url, home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"{lines}:2:" in done.stderr
    assert "amount_cents" in done.stderr
    lines.write_text(json.dumps(ORDER) + "\n{not json\n")
    done = cli("produce", "--topic", topic, "--subject", subject, str(lines), "--bootstrap",
               bootstrap, "--registry", registry_url, home=tmp_path)
    assert done.returncode == 2 and f"{lines}:2: not JSON" in done.stderr
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-probe"})
    try:
        assert probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 0)
    finally:
        probe.close()
