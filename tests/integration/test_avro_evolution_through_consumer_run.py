"""Schema evolution end to end: `consumer produce` writes v2 orders through the registry,
`consumer run --reader-schema orders-v1.avsc` hands the handler v1 records; corrupt payloads
and unknown schema ids on the same topic are data errors, dead-lettered on the first attempt
with their reason, never retried and never blocking the partition."""

import json
import subprocess
import sys

import pytest

from consumer.dlq import parse_dead_letter
from tests.support.dlq import read_topic
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.orders import SCHEMAS, order_v2, schema
from tests.support.runner import REPO, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_v2_records_reach_a_v1_handler_and_bad_bytes_are_dead_lettered(
        bootstrap, registry_url, redis_url, unique, tmp_path):
    topic, subject, group = f"evo-{unique}", f"evo-{unique}-value", f"evo-{unique}"
    create_topic(bootstrap, topic, 2)
    for version in (1, 2):
        done = cli("schemas", "register", str(SCHEMAS / f"orders-v{version}.avsc"),
                   "--subject", subject, "--registry", registry_url)
        assert done.returncode == 0, done.stderr
    lines = tmp_path / "orders.jsonl"
    lines.write_text("".join(json.dumps(order_v2(n)) + "\n" for n in range(300)))
    done = cli("produce", "--topic", topic, "--subject", subject, str(lines), "--key-field",
               "customer_id", "--id-field", "order_id", "--bootstrap", bootstrap,
               "--registry", registry_url)
    assert done.returncode == 0, done.stderr
    bad = {"framing": b"plain text", "unknown_schema": b"\x00\x00\x0f\x42\x40\x02",
           "decode": b"\x00\x00\x00\x00\x02\xff\xff\xff"}
    ends = produce(bootstrap, topic, [(b"c-1", value, {"message-id": reason.encode()})
                                      for reason, value in bad.items()])

    values = tmp_path / "values.jsonl"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group,
                        record_file=tmp_path / "record.txt", log_file=tmp_path / "consumer.log",
                        handler="tests.support.handlers:record_values",
                        extra=["--registry", registry_url, "--redis", redis_url,
                               "--reader-schema", str(SCHEMAS / "orders-v1.avsc")],
                        env={"VALUES_FILE": str(values)})
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 60, "the topic")
    finally:
        assert stop(proc) == 0

    seen = [json.loads(line) for line in values.read_text().splitlines()]
    v1_fields = sorted(f["name"] for f in schema(1)["fields"])
    assert sorted(r["id"] for r in seen) == sorted(f"o-{n}" for n in range(300))
    assert all(r["fields"] == v1_fields for r in seen), "the handler must see v1 records"
    assert {r["status"] for r in seen} == {"UNKNOWN"}, "v2's REFUNDED reads as v1's default"
    letters = {parse_dead_letter(r).message_id: parse_dead_letter(r)
               for r in read_topic(bootstrap, f"{topic}.dlq", 2, expect=3)}
    assert set(letters) == set(bad)
    classes = {"framing": "FramingError", "unknown_schema": "UnknownSchemaError",
               "decode": "DecodeError"}
    for reason, letter in letters.items():
        assert (letter.category, letter.attempts) == ("data", 1)
        assert letter.error_class == f"consumer.errors.{classes[reason]}"
        assert letter.value == bad[reason]
