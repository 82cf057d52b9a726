"""Producing dead letters: the topic created when missing (as many partitions as its source),
and sends that never block the caller and report the broker's acknowledgement or the error.
The runtime commits a source offset only after its dead letter's acknowledgement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic

from .dlq import ProducerRecord
from .errors import DeadLetterError
from .kafka import admin, producer_config

Done = Callable[[DeadLetterError | None], None]


def ensure_topic(bootstrap: str, topic: str, *, like: str,
                 kafka: Mapping[str, str] | None = None, timeout_s: float = 10.0) -> int:
    """Creates ``topic`` with as many partitions as ``like`` unless it exists; returns its
    partition count. Safe when several members race to create it."""
    client = admin(bootstrap, kafka)

    def partitions_of(name: str) -> int | None:
        # All topics, not just ``name``: asking a broker about one topic can auto-create it.
        found = client.list_topics(timeout=timeout_s).topics.get(name)
        return len(found.partitions) if found is not None and found.error is None else None

    try:
        existing = partitions_of(topic)
        if existing is not None:
            return existing
        source_partitions = partitions_of(like)
        if source_partitions is None:
            raise DeadLetterError(f"cannot size dead-letter topic {topic!r}: "
                                  f"source topic {like!r} does not exist")
        future = client.create_topics([NewTopic(topic, num_partitions=source_partitions,
                                               replication_factor=-1)],  # broker default
                                     request_timeout=timeout_s)[topic]
        try:
            future.result(timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        return partitions_of(topic) or source_partitions
    except KafkaException as exc:
        raise DeadLetterError(f"cannot create dead-letter topic {topic!r}: "
                              f"{exc.args[0].str()}") from None


class DeadLetterProducer:
    """Sends dead letters to one topic. ``send`` returns at once; ``on_done(None)`` runs once
    the broker acknowledged the letter, ``on_done(error)`` when it could not be produced, both
    from ``poll``/``flush`` on the caller's thread, or from ``send`` itself when librdkafka
    refuses the record outright (queue full, too large). The caller keeps the source offset
    uncommitted until ``on_done(None)`` and sends again after an error."""

    def __init__(self, bootstrap: str, topic: str, *,
                 kafka: Mapping[str, str] | None = None) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._kafka = dict(kafka or {})
        # Idempotent with acks=all: a letter acknowledged once is in the topic once, even
        # when librdkafka retries after a lost response.
        self._producer = Producer(producer_config(bootstrap, self._kafka))
        self._partitions = 0

    def ensure_topic(self, like: str, timeout_s: float = 10.0) -> int:
        """Creates the dead-letter topic when missing; letters then keep their original
        partition number whenever the topic has that many partitions."""
        self._partitions = ensure_topic(self._bootstrap, self.topic, like=like,
                                        kafka=self._kafka, timeout_s=timeout_s)
        return self._partitions

    def send(self, letter: ProducerRecord, on_done: Done) -> None:
        topic = self.topic

        def delivered(err: KafkaError | None, msg: Any) -> None:
            if err is None:
                on_done(None)
            else:
                on_done(DeadLetterError(f"dead letter to {topic!r} not acknowledged: "
                                        f"{err.str()}", raw=msg))

        options: dict[str, Any] = {"headers": letter.headers, "on_delivery": delivered}
        if letter.partition is not None and letter.partition < self._partitions:
            options["partition"] = letter.partition
        try:
            self._producer.produce(topic, letter.value, letter.key, **options)
        except BufferError:
            on_done(DeadLetterError(f"dead letter to {topic!r} not sent: the producer queue "
                                    f"is full (poll() the producer more often)"))
        except KafkaException as exc:
            on_done(DeadLetterError(f"dead letter to {topic!r} refused: {exc.args[0].str()}"))

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serves acknowledgements; returns how many callbacks ran."""
        return int(self._producer.poll(timeout_s))

    def flush(self, timeout_s: float) -> int:
        """Waits for outstanding letters; returns how many are still unacknowledged."""
        return int(self._producer.flush(timeout_s))

    def __len__(self) -> int:
        """Letters sent and not yet acknowledged or failed."""
        return len(self._producer)
