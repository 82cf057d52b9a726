"""Flow control: fetching pauses while any reason holds (the in-memory bound is reached, a
breaker is open, Redis or the registry is down) and resumes when none is left. Polling goes on
either way, so the member never misses ``max.poll.interval.ms`` however long the pause."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

log = logging.getLogger(__name__)


class Flow:
    def __init__(self, consumer: Any, topic: str) -> None:
        self._consumer = consumer
        self._topic = topic
        self._reasons: set[str] = set()
        self._assigned: set[int] = set()
        self._paused: set[int] = set()   # partitions we paused, to resume exactly those

    @property
    def paused(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> frozenset[str]:
        return frozenset(self._reasons)

    @property
    def paused_partitions(self) -> int:
        return len(self._paused)

    def hold(self, reason: str, active: bool) -> None:
        if active == (reason in self._reasons):
            return
        if active:
            self._reasons.add(reason)
            log.info("pausing %s: %s", self._topic, reason)
        else:
            self._reasons.discard(reason)
            log.info("%s no longer holds %s", reason, self._topic)
        self._apply()

    def assigned(self, partitions: list[int]) -> None:
        """Call right after assigning: a new partition starts paused while a reason holds."""
        self._assigned.update(partitions)
        self._apply()

    def revoked(self, partitions: list[int]) -> None:
        self._assigned.difference_update(partitions)
        self._paused.difference_update(partitions)

    def _apply(self) -> None:
        if self._reasons:
            todo, action = self._assigned - self._paused, self._consumer.pause
        else:
            todo, action = set(self._paused), self._consumer.resume
        if not todo:
            return
        try:
            action([TopicPartition(self._topic, p) for p in sorted(todo)])
        except KafkaException as exc:  # a partition just revoked under us: next call fixes it
            log.debug("pause/resume of %s: %s", sorted(todo), exc)
            return
        if self._reasons:
            self._paused |= todo
        else:
            self._paused.clear()
