"""Dead-letter fixtures for integration tests: a dead-letter topic filled with letters that
``consumer.dlq`` builds (as the runtime would), the CLI run as an operator runs it, and reading
a topic back independently of the code under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from consumer.dlq import build_dead_letter
from consumer.dlq_producer import DeadLetterProducer
from consumer.errors import DeadLetterError

from .kafka import create_topic

REPO = Path(__file__).resolve().parents[2]
NOW_MS = int(time.time() * 1000)


@dataclass(frozen=True)
class Spec:
    """One failed source record and why it failed."""

    partition: int
    offset: int
    category: str = "handler"
    error: type[BaseException] = KeyError
    replays: int = 0


def _error(kind: type[BaseException], index: int) -> BaseException:
    try:
        raise kind(f"failure #{index}")
    except kind as exc:
        return exc


def fill_dlq(bootstrap: str, source: str, specs: list[Spec], partitions: int = 3) -> str:
    """Creates ``source`` and, through ``DeadLetterProducer``, its dead-letter topic holding one
    letter per spec (in order, one per batch); returns the dead-letter topic's name."""
    create_topic(bootstrap, source, partitions)
    dlq_topic = f"{source}.dlq"
    producer = DeadLetterProducer(bootstrap, dlq_topic)
    assert producer.ensure_topic(like=source) == partitions
    for index, spec in enumerate(specs):
        headers = [("message-id", f"m-{index}".encode()), ("tenant", b"acme")]
        if spec.replays:
            headers.append(("dlq.replay.count", str(spec.replays).encode()))
        original = Message(topic=source, partition=spec.partition, offset=spec.offset,
                           key=f"key-{index}".encode(), value=f"value-{index}".encode(),
                           headers=headers, timestamp=(1, NOW_MS - 600_000))
        letter = build_dead_letter(
            original, error=_error(spec.error, index), category=spec.category, attempts=5,
            group="billing", message_id=f"m-{index}", first_failure_ms=NOW_MS - 300_000,
            last_failure_ms=NOW_MS - 120_000 + index, schema_id=None)
        outcome: list[DeadLetterError | None] = []
        producer.send(letter, outcome.append)
        assert producer.flush(15) == 0 and outcome == [None], outcome
    return dlq_topic


def cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, "COLUMNS": "120"})


def cli_json(*args: str) -> Any:
    done = cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def read_topic(bootstrap: str, topic: str, partitions: int, expect: int,
               timeout_s: float = 30, quiet_s: float = 1.5) -> list[Message]:
    """Every record of ``topic``: waits for ``expect`` of them, then ``quiet_s`` more, so that
    records beyond the expected ones are seen too."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    records: list[Message] = []
    deadline = time.monotonic() + timeout_s
    quiet_until = None

    def fetched_everywhere() -> bool:
        # An empty answer means nothing only once every partition has been fetched from.
        return all(consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1] >= 0
                   for p in range(partitions))

    try:
        while time.monotonic() < (deadline if quiet_until is None else quiet_until):
            records += [m for m in consumer.consume(500, 0.2) if m.error() is None]
            if quiet_until is None and len(records) >= expect and fetched_everywhere():
                quiet_until = time.monotonic() + quiet_s
        assert quiet_until is not None, f"{topic}: {len(records)} of {expect} records seen"
    finally:
        consumer.close()
    return records
