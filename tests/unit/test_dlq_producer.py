"""DeadLetterProducer: sends never block or raise; the outcome arrives through ``on_done``."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer import dlq_producer
from consumer.dlq import ProducerRecord
from consumer.errors import DeadLetterError


class FakeProducer:
    """Stands for confluent_kafka.Producer: queues produce calls, reports them on poll."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced: list[dict[str, Any]] = []
        self.reports: list[KafkaError | None] = []
        self.refuse: BaseException | None = None

    def produce(self, topic, value=None, key=None, **options) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.produced.append({"topic": topic, "value": value, "key": key, **options})

    def poll(self, timeout: float = 0) -> int:
        fired = 0
        while self.produced and self.reports:
            call, error = self.produced.pop(0), self.reports.pop(0)
            call["on_delivery"](error, None)
            fired += 1
        return fired

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.produced)

    def __len__(self) -> int:
        return len(self.produced)


@pytest.fixture
def producer(monkeypatch) -> dlq_producer.DeadLetterProducer:
    monkeypatch.setattr(dlq_producer, "Producer", FakeProducer)
    monkeypatch.setattr(dlq_producer, "ensure_topic", lambda *a, **k: 4)
    return dlq_producer.DeadLetterProducer("broker:9092", "orders.dlq",
                                           kafka={"security.protocol": "SASL_SSL"})


LETTER = ProducerRecord(b"k", b"v", [("dlq.attempts", b"5")], partition=2)


def test_the_producer_is_idempotent_and_waits_for_all_replicas(producer):
    config = producer._producer.config
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["security.protocol"] == "SASL_SSL"


def test_send_returns_before_the_ack_and_poll_reports_it(producer):
    outcomes: list[DeadLetterError | None] = []
    producer.send(LETTER, outcomes.append)
    assert outcomes == [] and len(producer) == 1
    producer._producer.reports.append(None)
    assert producer.poll(0) == 1
    assert outcomes == [None]


def test_a_failed_delivery_reaches_on_done_as_a_dead_letter_error(producer):
    outcomes: list[DeadLetterError | None] = []
    producer.send(LETTER, outcomes.append)
    producer._producer.reports.append(KafkaError(KafkaError._MSG_TIMED_OUT))
    producer.poll(0)
    assert isinstance(outcomes[0], DeadLetterError)
    assert "orders.dlq" in str(outcomes[0]) and "not acknowledged" in str(outcomes[0])


@pytest.mark.parametrize(("refusal", "said"), [
    (BufferError("queue full"), "queue is full"),
    (KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)), "refused"),
])
def test_a_refused_send_reports_through_on_done_instead_of_raising(producer, refusal, said):
    outcomes: list[DeadLetterError | None] = []
    producer._producer.refuse = refusal
    producer.send(LETTER, outcomes.append)
    assert len(outcomes) == 1 and said in str(outcomes[0])


def test_letters_keep_their_partition_once_the_topic_is_known_to_have_it(producer):
    producer.send(LETTER, lambda _: None)
    assert "partition" not in producer._producer.produced[-1]  # topic size unknown yet
    assert producer.ensure_topic("orders") == 4
    producer.send(LETTER, lambda _: None)
    assert producer._producer.produced[-1]["partition"] == 2
    producer.send(ProducerRecord(b"k", b"v", [], partition=9), lambda _: None)
    assert "partition" not in producer._producer.produced[-1]
