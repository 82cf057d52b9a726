"""Partitions coming and going. On revoke a partition is let go cleanly: nothing new of it is
dispatched, the work already started on it (and the gaps below that work) is finished within a
bound, its position is committed synchronously, and only then does the callback return."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from .errors import RedisUnavailable
from .offsets import PartitionTracker

log = logging.getLogger(__name__)


class Rebalancer:
    def __init__(self, runtime: Any) -> None:
        self._rt = runtime

    # -- librdkafka callbacks (they run inside consume(), on the poll thread) ---------------
    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        rt = self._rt
        rt.observer.ready(True)
        if not partitions or rt.stopping.is_set():
            return  # closing: librdkafka assigns them for the moment they take to go again
        try:
            committed = {tp.partition: tp.offset
                         for tp in consumer.committed(partitions, timeout=10)}
        except KafkaException as exc:
            log.warning("committed offsets of %s unknown (%s): lag counts from the log start",
                        _names(partitions), exc)
            committed = {tp.partition: -1 for tp in partitions}
        consumer.incremental_assign(rt.start_offsets(consumer, partitions, committed))
        for tp in partitions:
            tracker = PartitionTracker(tp.topic, tp.partition)
            # Known before anything is done here, so lag counts from the group's commit.
            tracker.position = committed[tp.partition] if committed[tp.partition] >= 0 else None
            rt.trackers[tp.partition] = tracker
            if rt.recovery is not None:
                try:
                    rt.recovery.assigned(tp.partition, tracker.position)
                except RedisUnavailable as exc:
                    log.warning("%s[%d]: attempt counts unknown (%s): crash-loop protection "
                                "is off for this assignment", tp.topic, tp.partition, exc)
        rt.flow.assigned([tp.partition for tp in partitions])
        log.info("assigned %s", _names(partitions))

    def on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        log.info("revoking %s", _names(partitions))
        self.let_go({tp.partition for tp in partitions}, self._rt.settings.rebalance_timeout_s,
                    commit=True)

    def on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.warning("lost %s: their uncommitted work will be read again", _names(partitions))
        self.let_go({tp.partition for tp in partitions}, 0.0, commit=False)

    # -- letting go ------------------------------------------------------------------------
    def let_go(self, partitions: set[int], timeout_s: float, *, commit: bool) -> None:
        rt = self._rt
        trackers = {p: rt.trackers[p] for p in partitions if p in rt.trackers}
        if not trackers:
            return
        limits = self._finish_up_to(trackers, timeout_s)
        rt.discard(lambda m: m.partition not in limits or m.offset <= limits[m.partition])
        deadline = time.monotonic() + timeout_s
        while any(t.outstanding() for t in trackers.values()):
            if time.monotonic() >= deadline:
                log.warning("partitions %s let go with work unfinished after %.1fs: it will "
                            "be read again", sorted(partitions), timeout_s)
                break
            rt.completion.settle()
            time.sleep(0.005)
        rt.completion.settle()
        if commit:
            self._commit(trackers)
        for tracker in trackers.values():
            tracker.active = False
            if rt.recovery is not None:
                # Not after a loss: what ran there is unknown, the next owner runs a careful
                # recovery pass. Nor when Redis is down: the same, slower but still right.
                with contextlib.suppress(RedisUnavailable):
                    rt.recovery.released(tracker.partition, clean=commit)
        rt.discard(lambda m: m.partition not in trackers)
        for partition in trackers:
            del rt.trackers[partition]
        rt.flow.revoked(list(trackers))

    def _finish_up_to(self, trackers: dict[int, PartitionTracker], timeout_s: float
                      ) -> dict[int, int]:
        """Per partition, the offset up to which queued work is still handled before letting
        go: the highest one already handed to a handler, so that no finished message sits
        above a gap (whoever reads from the commit would handle it again). Unless that much
        work would not fit in half the time allowed: then only what is running finishes."""
        rt = self._rt
        queued: dict[int, list[int]] = {p: [] for p in trackers}
        for message in rt.queued():
            if message.partition in queued:
                queued[message.partition].append(message.offset)
        limits = {}
        for partition, tracker in trackers.items():
            limit = tracker.highest_started(set(queued[partition]))
            gap_work = sum(1 for offset in queued[partition] if offset <= limit)
            expected_s = gap_work * rt.executor.call_s / rt.settings.concurrency
            limits[partition] = limit if expected_s <= timeout_s / 2 else -1
        return limits

    def _commit(self, trackers: dict[int, PartitionTracker]) -> None:
        offsets = [TopicPartition(t.topic, t.partition, t.position)
                   for t in trackers.values() if t.position is not None]
        if not offsets:
            return
        try:
            # Stored first: librdkafka's own final commit (on close) commits the stored
            # offsets, and must not carry an older position back over this one.
            self._rt.consumer.store_offsets(offsets=offsets)
            self._rt.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: at-least-once holds, whoever reads next starts from the last commit.
            log.warning("commit of %s failed: %s", offsets, exc)



def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
