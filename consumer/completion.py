"""Stage 6 (outcome): carries out decisions on the poll thread. A message's offset completes
only once its outcome is durable: its done mark in Redis, or its dead letter acknowledged by
the broker. Then the partition's commit position may move, and is stored for the committer.

Done marks are written by ``marks_writer`` (one thread of its own in the runtime), one batch
at a time: the poll thread decodes the next records while Redis answers, instead of waiting
(the round trip and Redis's own work were ~10% of the poll thread's time). Marks finished
while a batch is out gather into the next one."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from .errors import DataError, RedisUnavailable
from .outcome import Verdict

log = logging.getLogger(__name__)
# One settled message in this many has its end-to-end latency measured: percentiles of a
# uniform sample are the percentiles of the whole, at a quarter of the cost.
LATENCY_SAMPLE_EVERY = 4


class Completion:
    def __init__(self, *, consumer: Any, executor: Any, feeder: Any, duplicates: Any,
                 dead_letters: Any, policy: Any, recovery: Any, marks_writer: Executor) -> None:
        self._consumer = consumer
        self._executor = executor
        self._feeder = feeder
        self._duplicates = duplicates      # DuplicateFilter, or None with --no-dedup
        self._dead_letters = dead_letters
        self._policy = policy
        self._recovery = recovery          # Recovery, or None without Redis
        self._marks_writer = marks_writer
        self._to_record: list[Any] = []
        self._recording: tuple[list[Any], Future[None]] | None = None   # the batch out
        self._unsent: list[Any] = []           # dead letters the broker refused: sent again
        self.counts: Counter[str] = Counter()
        self.data_error_reasons: Counter[str] = Counter()
        # Kafka timestamps (ms) of a sample of the messages settled since the observer last
        # looked: what end-to-end latency is measured on. None: metrics are off.
        self.latency_sample: list[int] | None = []

    def settle(self) -> None:
        """Drains the handlers' results and makes their outcomes durable."""
        results = self._executor.results
        while results:
            messages, verdict = results.popleft()
            if verdict is Verdict.DONE:
                if self._duplicates is None:
                    self.finish_all(messages, Verdict.DONE)
                else:
                    self._to_record += messages
            elif verdict is Verdict.DEAD_LETTER:
                for message in messages:
                    self.dead_letter(message)
            elif verdict is Verdict.DUPLICATE:   # found done just before its handler call
                self.found_done(messages)
            else:  # a retry is scheduled: its attempt goes on record
                self.counts[verdict.value] += len(messages)
                if self._recovery is not None:
                    for message in messages:
                        self._recovery.failed(message)
        if self._to_record or self._recording is not None:
            self._record()
        self._dead_letters.poll()
        if self._unsent:
            unsent, self._unsent = self._unsent, []
            for message in unsent:
                self.dead_letter(message)

    def _record(self) -> None:
        while True:
            if self._recording is not None:
                batch, written = self._recording
                if not written.done():
                    return
                self._recording = None
                try:
                    written.result()
                except RedisUnavailable:   # kept: recorded (and completed) once Redis answers
                    self._to_record[:0] = batch
                    return
                self.finish_all(batch, Verdict.DONE)
            if not self._to_record:
                return
            batch, self._to_record = self._to_record, []
            self._recording = batch, self._marks_writer.submit(self._duplicates.record, batch)

    def data_errors(self, failures: Sequence[tuple[Any, DataError]]) -> None:
        for message, error in failures:
            self.data_error_reasons[error.reason] += 1
            self.reject(message, error)

    def reject(self, message: Any, error: BaseException) -> None:
        """A message that fails before any handler call (bad data, a crash loop)."""
        self._policy.decide(message, error)   # records the failure on the message
        self.dead_letter(message)

    def duplicates(self, messages: list[Any]) -> None:
        if messages:
            self.finish_all(messages, Verdict.DUPLICATE)

    def found_done(self, messages: list[Any]) -> None:
        """First copies of their id in this process, found done by another member: they and
        the copies waiting behind them are duplicates."""
        if messages:
            follow = self._duplicates.settled_done(messages)
            self.finish_all(messages, Verdict.DUPLICATE)
            self.duplicates(follow)

    def dead_letter(self, message: Any) -> None:
        def acknowledged(error: Exception | None) -> None:
            if error is None:
                self.finish(message, Verdict.DEAD_LETTER)
            else:  # nothing is committed for it; it goes again on the next turn
                log.warning("dead letter for %r not acknowledged (%s): retrying", message, error)
                self._unsent.append(message)

        self._dead_letters.send(message, acknowledged)

    def finish(self, message: Any, verdict: Verdict) -> None:
        self.finish_all([message], verdict)

    def finish_all(self, messages: list[Any], verdict: Verdict) -> None:
        """The messages' outcomes are durable: their offsets complete, and what waited on them
        (a crash suspect's successor, later copies of their ids) goes on."""
        for message in messages:
            tracker = message.tracker
            if tracker.active:
                tracker.complete(message.offset)
        self.counts[verdict.value] += len(messages)
        if self.latency_sample is not None:
            self.latency_sample += [m.raw.timestamp()[1] for m in messages[::LATENCY_SAMPLE_EVERY]]
        if self._recovery is not None:
            runnable = self._recovery.settled(messages)
            if runnable:
                self._feeder.add(runnable)
        if self._duplicates is None or verdict is Verdict.DUPLICATE:
            return
        if verdict is Verdict.DONE:
            self.duplicates(self._duplicates.settled_done(messages))
        else:
            for message in messages:
                self.submit(self._duplicates.settled(message, succeeded=False))

    def submit(self, messages: list[Any]) -> None:
        """Sends messages on to the handlers, through crash-loop protection when it is on."""
        if self._recovery is not None and messages:
            messages = self._recovery.admit(messages)
        if messages:
            self._feeder.add(messages)

    @property
    def settle_due(self) -> bool:
        """``settle`` has work: handler results, or a record of done marks that came back."""
        return bool(self._executor.results) or (self._recording is not None
                                                 and self._recording[1].done())

    @property
    def record_out(self) -> Future[None] | None:
        """The round trip of done marks in flight, if any."""
        return self._recording[1] if self._recording is not None else None

    @property
    def pending_records(self) -> int:
        """Done messages whose marks are not in Redis yet."""
        out = len(self._recording[0]) if self._recording is not None else 0
        return len(self._to_record) + out

    def store_offsets(self, trackers: dict[int, Any]) -> list[TopicPartition]:
        """Hands the moved commit positions to librdkafka's committer."""
        moved = [t for t in trackers.values() if t.dirty and t.active]
        if not moved:
            return []
        offsets = [TopicPartition(t.topic, t.partition, t.position) for t in moved]
        try:
            self._consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # a partition revoked under us: its owner reads on
            log.debug("store_offsets %s: %s", offsets, exc)
        for tracker in moved:
            tracker.dirty = False
        return offsets
