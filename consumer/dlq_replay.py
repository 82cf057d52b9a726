"""``consumer dlq replay``: republishing dead letters to their original topic (or another),
at most once per replay group.

Progress is the replay group's committed offsets on the dead-letter topic, committed batch by
batch and only up to the first letter whose republished record the broker has not acknowledged:
a crash or an error replays again at most what was in flight, never skips a letter. Letters
replayed ``max_replays`` times already are skipped with a warning, which ends replay cycles of a
message that keeps failing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from .dlq import DeadLetterRecord, parse_dead_letter
from .dlq_filter import LetterFilter
from .errors import ReplayError, ServiceUnavailable
from .topic_reader import TopicReader, partitions_of

REPLAY_GROUP_SUFFIX = ".replay"
# Long enough for a broker to come back from a leader election, short enough that a replay to
# a dead cluster fails in reasonable time instead of librdkafka's default five minutes.
REPLAY_DELIVERY_TIMEOUT_MS = 30_000
MAX_BATCH = 500


def default_group(topic: str, select: LetterFilter, to: str | None) -> str:
    """``<topic>.replay`` for a plain replay. A replay restricted by filters or sent elsewhere
    keeps its own progress (``<topic>.replay.<hash of them>``): otherwise letters it passed
    over would count as done for a later replay of the rest."""
    if select.selects_all and to is None:
        return topic + REPLAY_GROUP_SUFFIX
    identity = f"{select.describe()} to={to or ''}".encode()
    return f"{topic}{REPLAY_GROUP_SUFFIX}.{hashlib.sha256(identity).hexdigest()[:10]}"


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    topic: str
    group: str
    to: str | None = None
    select: LetterFilter = field(default_factory=LetterFilter)
    limit: int | None = None          # letters to replay at most
    rate_per_s: float | None = None   # letters republished per second at most
    max_replays: int = 3
    dry_run: bool = False


@dataclass
class ReplayReport:
    topic: str
    group: str
    dry_run: bool
    replayed: int = 0
    skipped_max_replays: int = 0
    skipped_no_target: int = 0
    not_matching: int = 0
    letters: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed_partitions: list[int] = field(default_factory=list)


class Progress(Protocol):
    def total(self, letters: int) -> None: ...
    def advance(self, letters: int) -> None: ...
    def warn(self, text: str) -> None: ...


class Replayer:
    def __init__(self, options: ReplayOptions, consumer: Consumer, producer: Producer | None,
                 progress: Progress, *, flush_timeout_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if producer is None and not options.dry_run:
            raise ValueError("a replay that writes needs a producer")
        self._o = options
        self._consumer = consumer
        self._producer = producer
        self._progress = progress
        self._flush_timeout_s = flush_timeout_s
        self._clock = clock
        self._next_send_at = 0.0
        self._read = 0
        self._in_flight = 0
        self._topics: set[str] = set()
        self.report = ReplayReport(options.topic, options.group, options.dry_run)

    def run(self) -> ReplayReport:
        o = self._o
        partitions = partitions_of(self._consumer, o.topic)
        try:
            committed = self._consumer.committed(
                [TopicPartition(o.topic, p) for p in partitions], timeout=10)
        except KafkaException as exc:
            raise ServiceUnavailable(f"reading the progress of {o.group!r}: {exc}") from None
        starts = {tp.partition: tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                  for tp in committed}
        batch_size = MAX_BATCH if o.rate_per_s is None else max(1, min(MAX_BATCH,
                                                                         int(o.rate_per_s)))
        reader = TopicReader(self._consumer, o.topic, starts, batch_size=batch_size)
        for batch in reader.batches():
            backlog = reader.backlog()
            if backlog is not None:
                self._progress.total(self._read + len(batch) + backlog)
            if self._replay_batch(batch):
                break
        self.report.unconfirmed_partitions = reader.unconfirmed
        return self.report

    def _limit_reached(self) -> bool:
        return self._o.limit is not None and self.report.replayed + self._in_flight >= \
            self._o.limit

    def _replay_batch(self, batch: list[Any]) -> bool:
        """Replays one batch and commits it; True once ``limit`` letters are replayed."""
        next_offsets: dict[int, int] = {}
        sent: dict[tuple[int, int], dict[str, Any]] = {}
        self._in_flight = 0
        try:
            for record in batch:
                if self._limit_reached():
                    break
                letter = parse_dead_letter(record)
                self._handle(letter, sent)
                next_offsets[letter.partition] = letter.offset + 1
                self._read += 1
                self._progress.advance(1)
        finally:
            # Also on Ctrl-C: what was acknowledged stays replayed.
            if not self._o.dry_run:
                self._settle(next_offsets, sent)
        return self._limit_reached()

    def _handle(self, letter: DeadLetterRecord, sent: dict[tuple[int, int], dict[str, Any]]
                ) -> None:
        o, report = self._o, self.report
        if not o.select.matches(letter):
            report.not_matching += 1
            return
        where = f"letter {letter.partition}:{letter.offset} (message id {letter.message_id})"
        entry = {"partition": letter.partition, "offset": letter.offset,
                 "message_id": letter.message_id, "category": letter.category,
                 "error_class": letter.error_class, "replay_count": letter.replay_count,
                 "target_topic": None, "action": None, "error": None}
        report.letters.append(entry)
        if letter.replay_count >= o.max_replays:
            report.skipped_max_replays += 1
            entry["action"] = "skipped_max_replays"
            self._progress.warn(f"skipped {where}: replayed {letter.replay_count} times "
                                f"already (--max-replays {o.max_replays})")
            return
        replay = letter.replay(o.to)
        if replay is None or not self._topic_exists(replay[0]):
            report.skipped_no_target += 1
            entry["action"] = "skipped_no_target"
            if replay is not None and not o.dry_run:
                raise ReplayError(f"cannot replay {where}: topic {replay[0]!r} does not exist "
                                  f"(create it, or send elsewhere with --to)")
            self._progress.warn(f"skipped {where}: " + (
                f"topic {replay[0]!r} does not exist" if replay else
                "no dlq.original.topic header; name a topic with --to"))
            return
        topic, outgoing = replay
        entry["target_topic"] = topic
        if o.dry_run:
            entry["action"] = "would_replay"
            report.replayed += 1
            return
        assert self._producer is not None
        self._pace(self._producer)
        entry["action"] = "in_flight"
        self._in_flight += 1

        def delivered(err: KafkaError | None, _msg: Any) -> None:
            self._in_flight -= 1
            entry["action"] = "replayed" if err is None else "failed"
            entry["error"] = None if err is None else err.str()
            report.replayed += err is None

        options: dict[str, Any] = {"headers": outgoing.headers, "on_delivery": delivered}
        if outgoing.partition is not None:
            options["partition"] = outgoing.partition
        self._producer.produce(topic, outgoing.value, outgoing.key, **options)
        sent[(letter.partition, letter.offset)] = entry

    def _pace(self, producer: Producer) -> None:
        if self._o.rate_per_s is None:
            return
        now = self._clock()
        while now < self._next_send_at:
            # Waiting in poll serves the acknowledgements meanwhile.
            producer.poll(self._next_send_at - now)
            now = self._clock()
        self._next_send_at = max(self._next_send_at, now) + 1.0 / self._o.rate_per_s

    def _topic_exists(self, topic: str) -> bool:
        if topic not in self._topics:
            # All topics, not one by name: asking for one topic can auto-create it.
            self._topics = set(self._consumer.list_topics(timeout=10).topics)
        return topic in self._topics

    def _settle(self, next_offsets: dict[int, int],
                sent: dict[tuple[int, int], dict[str, Any]]) -> None:
        """Waits for the batch's acknowledgements and commits each partition up to its first
        letter that is not acknowledged."""
        assert self._producer is not None
        self._producer.flush(self._flush_timeout_s)
        failed = {key: entry for key, entry in sent.items() if entry["action"] != "replayed"}
        commits = []
        for partition, next_offset in next_offsets.items():
            unacked = [offset for (p, offset) in failed if p == partition]
            commits.append(TopicPartition(self._o.topic, partition,
                                          min(unacked) if unacked else next_offset))
        if commits:
            try:
                self._consumer.commit(offsets=commits, asynchronous=False)
            except KafkaException as exc:
                raise ReplayError(f"progress of {self._o.group!r} not saved ({exc}): the "
                                  f"letters of this batch will be replayed again") from None
        if failed:
            (partition, offset), entry = next(iter(failed.items()))
            raise ReplayError(f"{len(failed)} republished letter(s) not acknowledged, first "
                              f"{partition}:{offset}: {entry.get('error') or 'no answer'}; "
                              f"progress is kept before them, run again to retry")
