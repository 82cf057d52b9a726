"""``consumer run --from-time T1 [--until-time T2]``: a bounded run through the same pipeline,
under its own consumer group (so its dedup and commits are its own: a re-run of a bad day must
not be dropped as duplicates of the day it repairs), starting at the broker's offsets for T1.
Records outside [T1, T2] are read past without a handler call; with T2 the run ends once every
assigned partition has passed it (a record after T2, or the partition's end)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import OFFSET_END, TopicPartition

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


def backfill_group(group: str, from_ms: int, until_ms: int | None) -> str:
    return f"{group}.backfill-{from_ms}-{until_ms if until_ms is not None else 'open'}"


class Backfill:
    def __init__(self, from_ms: int, until_ms: int | None) -> None:
        self.from_ms = from_ms
        self.until_ms = until_ms
        self.passed: set[int] = set()   # partitions read past T2 (or to their end)
        self._next_progress = time.monotonic() + PROGRESS_EVERY_S

    def start_offsets(self, consumer: Any, partitions: list[TopicPartition],
                      committed: dict[int, int]) -> list[TopicPartition]:
        """Where the run starts: its own commits when resumed, else the offsets for T1."""
        fresh = [TopicPartition(tp.topic, tp.partition, self.from_ms)
                 for tp in partitions if committed.get(tp.partition, -1) < 0]
        found = {tp.partition: tp.offset
                 for tp in consumer.offsets_for_times(fresh, timeout=30)} if fresh else {}
        starts = []
        for tp in partitions:
            offset = found.get(tp.partition)
            if offset is None:
                starts.append(tp)            # resumed: librdkafka reads from the commit
            else:
                # No record at or after T1: nothing to do there but reach the end.
                starts.append(TopicPartition(tp.topic, tp.partition,
                                             offset if offset >= 0 else OFFSET_END))
            log.info("backfill starts %s[%d] at %s", tp.topic, tp.partition,
                     "its commit" if offset is None else starts[-1].offset)
        return starts

    def outside(self, raw: Any) -> bool:
        """True for a record not to handle; notes the partitions that passed T2."""
        timestamp = raw.timestamp()[1]
        if self.until_ms is not None and timestamp > self.until_ms:
            self.passed.add(raw.partition())
            return True
        return bool(timestamp < self.from_ms)

    def reached_end(self, partition: int) -> None:
        self.passed.add(partition)

    def progress(self, counts: Mapping[str, int], assigned: set[int]) -> None:
        """A progress line every few seconds: a backfill is watched by a person."""
        if time.monotonic() < self._next_progress:
            return
        self._next_progress = time.monotonic() + PROGRESS_EVERY_S
        settled = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        log.info("backfill: %s; %d of %d partitions past the end of the range",
                 settled or "nothing yet", len(assigned & self.passed), len(assigned))

    def finished(self, assigned: set[int]) -> bool:
        return self.until_ms is not None and bool(assigned) and assigned <= self.passed
