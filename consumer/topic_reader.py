"""Reading a whole topic once, from given offsets to its current end, without joining a group
(``assign``, not ``subscribe``): what ``consumer dlq inspect`` and ``replay`` need.

The end is the high watermark that fetch responses carry (``get_watermark_offsets(cached=True)``),
not a ListOffsets answer: Tansu's ListOffsets is wrong after multi-record batches, fetch
responses are right there and on Apache Kafka. A partition is done once the next offset to read
reaches it; reading stops when every partition is done and the topic stayed quiet a moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from .errors import NotFoundError, ServiceUnavailable

log = logging.getLogger(__name__)

# librdkafka reports these while it reconnects or looks a leader up: wait, don't fail.
_PASSING_ERRORS = {KafkaError._PARTITION_EOF, KafkaError._TRANSPORT,
                   KafkaError._ALL_BROKERS_DOWN, KafkaError.NOT_LEADER_FOR_PARTITION,
                   KafkaError.LEADER_NOT_AVAILABLE}


def open_consumer(bootstrap: str, group: str, kafka: Mapping[str, Any] | None = None
                  ) -> Consumer:
    """A consumer that commits only when told to. ``group`` holds committed progress (if the
    caller commits); being assigned partitions, it never joins the group."""
    return Consumer({**(kafka or {}), "bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "auto.offset.reset": "earliest",
                     # Reading to the end: an empty partition should answer fast.
                     "fetch.wait.max.ms": 100})


def partitions_of(consumer: Consumer, topic: str, timeout_s: float = 10.0) -> list[int]:
    """The topic's partition ids; ``NotFoundError`` when it does not exist."""
    try:
        # All topics, not just ``topic``: asking a broker about one topic can auto-create it.
        metadata = consumer.list_topics(timeout=timeout_s)
    except Exception as exc:
        raise ServiceUnavailable(f"the broker does not answer: {exc}") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise NotFoundError(f"topic {topic!r} does not exist")
    return sorted(found.partitions)


class TopicReader:
    """Yields batches of records of ``topic`` from ``starts`` (partition -> next offset to
    read, or ``OFFSET_BEGINNING``) until every partition reached its end."""

    def __init__(self, consumer: Consumer, topic: str, starts: Mapping[int, int], *,
                 batch_size: int = 500, idle_s: float = 0.5, give_up_s: float = 15.0) -> None:
        self._consumer = consumer
        self._topic = topic
        self._next: dict[int, int] = dict(starts)
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._give_up_s = give_up_s
        self.unconfirmed: list[int] = []   # partitions whose end was never seen (see batches)

    def batches(self) -> Iterator[list[Message]]:
        """After the last batch, ``unconfirmed`` lists partitions whose end could not be
        confirmed within ``give_up_s`` of silence (broker unreachable, say)."""
        self._consumer.assign([TopicPartition(self._topic, p, o) for p, o in self._next.items()])
        quiet_since: float | None = None
        while True:
            records = self._consume()
            if records:
                quiet_since = None
                yield records
                continue
            now = time.monotonic()
            quiet_since = quiet_since if quiet_since is not None else now
            if now - quiet_since >= self._idle_s and not self._unfinished():
                return
            if now - quiet_since >= self._give_up_s:
                self.unconfirmed = self._unfinished()
                return

    def backlog(self) -> int | None:
        """Records left to read, once every partition's end is known; else None."""
        total = 0
        for partition in self._next:
            low, high = self._watermarks(partition)
            if high < 0:
                return None
            total += max(0, high - self._position(partition, low))
        return total

    def _consume(self) -> list[Message]:
        records = []
        for record in self._consumer.consume(self._batch_size, timeout=0.1):
            error = record.error()
            if error is None:
                partition, offset = record.partition(), record.offset()
                assert partition is not None and offset is not None  # a record has both
                self._next[partition] = offset + 1
                records.append(record)
            elif error.fatal() or error.code() not in _PASSING_ERRORS:
                raise ServiceUnavailable(f"reading {self._topic!r}: {error.str()}")
            else:
                log.debug("reading %s: %s", self._topic, error.str())
        return records

    def _unfinished(self) -> list[int]:
        unfinished = []
        for partition in self._next:
            low, high = self._watermarks(partition)
            if high < 0 or self._position(partition, low) < high:
                unfinished.append(partition)
        return unfinished

    def _position(self, partition: int, low: int) -> int:
        # Until a record is read, a start "from the beginning" is the low watermark; an
        # offset below it (deleted by retention) also reads on from there.
        return max(self._next[partition], low)

    def _watermarks(self, partition: int) -> tuple[int, int]:
        low, high = self._consumer.get_watermark_offsets(
            TopicPartition(self._topic, partition), cached=True)
        return int(low), int(high)
