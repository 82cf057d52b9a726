"""The runtime's dead-letter stage: a failed message becomes a dead letter (``dlq.py`` builds
it) produced to the dead-letter topic; the caller hears from the broker's acknowledgement, and
only then may the source offset be committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from confluent_kafka import KafkaError, Producer

from .dlq import build_dead_letter
from .errors import DeadLetterError
from .kafka import admin, ensure_topic, partition_count, producer_config

log = logging.getLogger(__name__)

Acknowledged = Callable[[Exception | None], None]


class DeadLetters:
    def __init__(self, *, bootstrap: str, overrides: dict[str, str], topic: str, source: str,
                 group: str) -> None:
        client = admin(bootstrap, overrides)
        # As many partitions as the source, so a letter keeps its partition number and order.
        ensure_topic(client, topic, partition_count(client, source) or 1)
        self._partitions = partition_count(client, topic) or 1
        self._topic = topic
        self._group = group
        self._producer = Producer(producer_config(bootstrap, overrides))

    def send(self, message: Any, acknowledged: Acknowledged) -> None:
        failure = message.failure
        letter = build_dead_letter(
            message.raw, error=failure.error, category=failure.category,
            attempts=message.attempt, group=self._group, message_id=message.message_id,
            first_failure_ms=int(failure.first_failure_s * 1000),
            last_failure_ms=int(failure.last_failure_s * 1000), schema_id=message.schema_id)
        partition = letter.partition if letter.partition is not None and \
            letter.partition < self._partitions else -1

        def on_delivery(error: KafkaError | None, _record: Any) -> None:
            acknowledged(None if error is None else DeadLetterError(str(error), raw=message.raw))

        while True:
            try:
                self._producer.produce(self._topic, key=letter.key, value=letter.value,
                                       headers=cast(Any, letter.headers), partition=partition,
                                       on_delivery=on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain
                self._producer.poll(0.05)

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self, timeout_s: float) -> int:
        """Waits for outstanding letters; returns how many were left unacknowledged."""
        return int(self._producer.flush(timeout_s))
