"""`consumer dev up --json` on a fresh home: every address it prints answers, a produce/consume
round trip works on its broker, `up` again changes nothing, `status` reports all three (for
people in 80 columns), and `down` stops only what `up` started (another Redis keeps running, a taken port is avoided)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer

from consumer.constants import DEV_BROKER_PORT
from consumer.services import port_is_free, registry_answers
from tests.support.runner import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def dev(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", "dev", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CONSUMER_HOME": str(home), "COLUMNS": "80"})


def test_dev_up_round_trip_idempotent_and_down(tmp_path, redis_url):
    # Something else holds the broker's preferred port: up must not collide with it.
    squatter = socket.socket()
    if port_is_free(DEV_BROKER_PORT):
        squatter.bind(("127.0.0.1", DEV_BROKER_PORT))
        squatter.listen()
    try:
        up = dev(tmp_path, "up", "--json")
        assert up.returncode == 0, up.stderr
        addresses = json.loads(up.stdout)
        assert addresses["bootstrap"] != f"127.0.0.1:{DEV_BROKER_PORT}"

        producer = Producer({"bootstrap.servers": addresses["bootstrap"]})
        producer.produce("dev-round-trip", key=b"k", value=b"hello")
        assert producer.flush(30) == 0
        consumer = Consumer({"bootstrap.servers": addresses["bootstrap"], "group.id": "dev-rt",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["dev-round-trip"])
        got = []
        for _ in range(60):
            got += [m.value() for m in consumer.consume(10, 0.5) if m.error() is None]
            if got:
                break
        consumer.close()
        assert got == [b"hello"]
        assert redis.Redis.from_url(addresses["redis"]).ping()
        assert registry_answers(addresses["registry"])

        again = dev(tmp_path, "up", "--json")
        assert json.loads(again.stdout) == addresses, "up twice changed the stack"
        status = json.loads(dev(tmp_path, "status", "--json").stdout)
        assert all(s["running"] and s["answering"] for s in status.values())
        shown = dev(tmp_path, "status").stdout.splitlines()
        assert all(len(line) <= 80 for line in shown), "\n".join(shown)
        for component in ("broker", "redis", "registry"):
            row = next(line for line in shown if f" {component} " in line)
            assert "answering" in row and f"{component}.log" in row
        assert f"logs in {tmp_path}" in "".join(shown)   # a long path may fold
    finally:
        down = dev(tmp_path, "down")
        squatter.close()
    assert down.returncode == 0
    assert dev(tmp_path, "status", "--json").returncode == 1, "status after down: not running"
    assert redis.Redis.from_url(redis_url).ping(), "down stopped a Redis it did not start"
