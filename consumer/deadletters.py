"""The runtime's dead-letter stage: a failed message becomes a dead letter (``dlq.py`` builds
it) sent through ``DeadLetterProducer``; the caller hears the broker's acknowledgement, and only
then may the source offset be committed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .dlq import build_dead_letter
from .dlq_producer import DeadLetterProducer
from .errors import DeadLetterError


class DeadLetters:
    def __init__(self, *, bootstrap: str, kafka: Mapping[str, str], topic: str, source: str,
                 group: str) -> None:
        self._group = group
        self._producer = DeadLetterProducer(bootstrap, topic, kafka=kafka)
        self._producer.ensure_topic(like=source)

    def send(self, message: Any, on_done: Callable[[DeadLetterError | None], None]) -> None:
        failure = message.failure
        letter = build_dead_letter(
            message.raw, error=failure.error, category=failure.category,
            attempts=message.attempt, group=self._group, message_id=message.message_id,
            first_failure_ms=int(failure.first_failure_s * 1000),
            last_failure_ms=int(failure.last_failure_s * 1000), schema_id=message.schema_id)
        self._producer.send(letter, on_done)

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self, timeout_s: float) -> int:
        """Waits for outstanding letters; returns how many were left unacknowledged."""
        return self._producer.flush(timeout_s)
