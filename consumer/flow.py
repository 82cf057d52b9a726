"""Flow control: fetching pauses while any reason holds (the in-memory bound has held for a
while, ``runtime.BUFFER_PAUSE_AFTER_S``; a breaker is open; Redis or the registry is down) and
resumes when none is left. Polling goes on either way, so the member never misses
``max.poll.interval.ms`` however long the pause.

The in-memory bound spares partitions whose records the buffered work waits for (a crash's
suspects not fetched yet, ``recovery``): pausing them would wait for ever."""

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
        self._awaited: frozenset[int] = frozenset()   # fetched despite the buffer bound

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

    def await_partitions(self, partitions: frozenset[int]) -> None:
        """Partitions to keep fetching while only the buffer bound holds: what is buffered
        cannot settle before records of theirs arrive."""
        if partitions != self._awaited:
            self._awaited = partitions
            self._apply()

    def assigned(self, partitions: list[int]) -> None:
        """Call right after assigning: a new partition starts paused while a reason holds."""
        self._assigned.update(partitions)
        self._apply()

    def revoked(self, partitions: list[int]) -> None:
        self._assigned.difference_update(partitions)
        self._paused.difference_update(partitions)

    def _apply(self) -> None:
        wanted = set()
        if self._reasons - {"buffer"}:
            wanted = set(self._assigned)
        elif self._reasons:
            wanted = self._assigned - self._awaited
        self._set_paused(self._paused - wanted, paused=False)
        self._set_paused(wanted - self._paused, paused=True)

    def _set_paused(self, partitions: set[int], *, paused: bool) -> None:
        if not partitions:
            return
        action = self._consumer.pause if paused else self._consumer.resume
        try:
            action([TopicPartition(self._topic, p) for p in sorted(partitions)])
        except KafkaException as exc:  # a partition just revoked under us: next call fixes it
            log.debug("pause/resume of %s: %s", sorted(partitions), exc)
            return
        if paused:
            self._paused |= partitions
        else:
            self._paused -= partitions
