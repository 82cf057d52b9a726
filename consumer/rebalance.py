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
        queued: dict[int, set[int]] = {p: set() for p in trackers}
        for message in rt.executor.queued():
            if message.partition in queued:
                queued[message.partition].add(message.offset)
        limits = {p: t.highest_started(queued[p]) for p, t in trackers.items()}
        rt.discard(lambda m: m.partition not in limits or m.offset <= limits[m.partition])

        deadline = time.monotonic() + timeout_s
        while not all(_settled(trackers[p], limit) for p, limit in limits.items()):
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


def _settled(tracker: PartitionTracker, limit: int) -> bool:
    return limit < 0 or (tracker.position is not None and tracker.position > limit)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
