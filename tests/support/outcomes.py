"""What a user checks after a run, against the fate planned for every record (streams.py):
nothing lost (every good id's effect in the idempotent sink, offsets committed to the end),
every effect once, one handler call per good id where no process was killed, and every bad
record dead-lettered with its context. ``verify`` asserts all of it and returns the figures."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from consumer.dlq import DeadLetterRecord, parse_dead_letter

from .dlq import read_topic
from .runner import Event
from .streams import CRASH_LOOP, HANDLER_BUG, Sent


class Progress:
    """Reads a handler record file (tests/support/runner.py's format) as it grows, without
    reading it all again each time: distinct ids done, records done, and handler calls."""

    def __init__(self, record_file: Path) -> None:
        self._path = record_file
        self._offset = 0
        self._partial = b""
        self.done_ids: set[str] = set()
        self.done_positions: set[tuple[int, int]] = set()
        self.calls = 0

    def refresh(self) -> int:
        """Distinct ids done so far."""
        if not self._path.exists():
            return 0
        with open(self._path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            kind, partition, offset, message_id, _ = line.split(b" ", 4)
            if kind == b"done":
                self.done_ids.add(message_id.decode())
                self.done_positions.add((int(partition), int(offset)))
            else:
                self.calls += 1
        return len(self.done_ids)


def sink_rows(sink_db: Path) -> list[tuple[str, int, int]]:
    """(message id, partition, offset) of every row tests/support/handlers.py:upsert wrote."""
    with sqlite3.connect(sink_db) as db:
        return list(db.execute("SELECT message_id, partition, record_offset FROM effects"))


class LetterWatch:
    """Reads a dead-letter topic as it fills, from its beginning: letters by the original
    (partition, offset) they stand for."""

    def __init__(self, bootstrap: str, dlq_topic: str, partitions: int) -> None:
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "letter-watch",
                                   "enable.auto.commit": False})
        self._consumer.assign([TopicPartition(dlq_topic, p, OFFSET_BEGINNING)
                               for p in range(partitions)])
        self.by_origin: dict[tuple[int, int], list[DeadLetterRecord]] = {}

    def refresh(self) -> dict[tuple[int, int], list[DeadLetterRecord]]:
        for raw in self._consumer.consume(1000, 0.05):
            if raw.error() is None:
                letter = parse_dead_letter(raw)
                origin = (letter.original_partition or 0, letter.original_offset or 0)
                self.by_origin.setdefault(origin, []).append(letter)
        return self.by_origin

    def close(self) -> None:
        self._consumer.close()


def dead_letters(bootstrap: str, dlq_topic: str, partitions: int, expect: int,
                 timeout_s: float = 60) -> list[DeadLetterRecord]:
    return [parse_dead_letter(r) for r in read_topic(bootstrap, dlq_topic, partitions, expect,
                                                     timeout_s=timeout_s, quiet_s=2.0)]


def letters_of(bootstrap: str, topic: str, partitions: int, sent: list[Sent]
               ) -> list[DeadLetterRecord]:
    """The topic's dead letters, once at least one per bad record of the plan is there."""
    bad = sum(s.planned.bad is not None for s in sent)
    return dead_letters(bootstrap, f"{topic}.dlq", partitions, bad)


@dataclass(frozen=True)
class Verdict:
    """The figures of a verified run."""

    records: int
    good_ids: int
    duplicate_copies: int
    bad_records: int
    dead_letters: int
    repeated_letters: int
    repeated_letter_kinds: dict[str, int]
    handler_calls_good: int
    repeated_calls: int
    poison_calls: int


def verify(sent: list[Sent], *, group: str, events: Iterable[Event],
           rows: list[tuple[str, int, int]], letters: list[DeadLetterRecord],
           max_attempts: int, killed: bool, partitions_lost: bool = False) -> Verdict:
    """Asserts the run's outcome against the plan. ``killed``: a process died by kill -9,
    so handler calls (and dead letters) in flight then may repeat; effects may not.
    ``partitions_lost``: a member lost partitions without letting them go cleanly (its
    session expired), so what it had not committed was read again: good ids are still
    handled once (their done marks are in Redis), but poison may be tried and dead-lettered
    again, as at-least-once delivery does."""
    redelivered = killed or partitions_lost
    good = [s for s in sent if s.planned.bad is None]
    bad = [s for s in sent if s.planned.bad is not None]
    good_ids = {s.message_id for s in good}
    bad_ids = {s.message_id for s in bad}
    assert not good_ids & bad_ids, "test plan error: an id is both good and bad"
    where = {s.message_id: s.planned.label for s in sent}

    # nothing lost, every effect once
    sink_ids = Counter(row[0] for row in rows)
    missing = good_ids - set(sink_ids)
    assert not missing, f"{len(missing)} good ids have no effect, e.g. {sorted(missing)[:5]}"
    extra = set(sink_ids) - good_ids
    assert not extra, f"effects of ids that must not have any: " \
                      f"{[(i, where.get(i)) for i in sorted(extra)[:5]]}"
    positions: dict[str, set[tuple[int, int]]] = {}
    for s in good:
        positions.setdefault(s.message_id, set()).add(s.position)
    misplaced = [row for row in rows if (row[1], row[2]) not in positions[row[0]]]
    assert not misplaced, f"effects naming records that do not carry their id: {misplaced[:5]}"

    # handler calls
    calls = Counter(e.message_id for e in events if e.kind == "start")
    good_calls = sum(calls[i] for i in good_ids)
    repeated = good_calls - len(good_ids)
    if not killed:
        twice = sorted(i for i in good_ids if calls[i] != 1)
        assert not twice, f"{len(twice)} good ids not called exactly once, e.g. " \
                          f"{[(i, calls[i]) for i in twice[:5]]}"
    if not redelivered:
        poison = {s.message_id: 0 for s in bad if HANDLER_BUG in s.planned.bad.error_classes}
        for s in bad:
            if s.message_id in poison:
                poison[s.message_id] += 1
        wrong = {i: calls[i] for i, copies in poison.items() if calls[i] != max_attempts * copies}
        assert not wrong, f"handler poison not tried --max-attempts times per copy: {wrong}"
    data_called = sorted(i for s in bad if s.planned.bad.category == "data"
                         for i in [s.message_id] if calls[i])
    assert not data_called, f"records with bad data reached the handler: {data_called[:5]}"

    # every bad record dead-lettered, with its context; nothing else
    by_origin: dict[tuple[int, int], list[DeadLetterRecord]] = {}
    topic = sent[0].topic
    for letter in letters:
        assert letter.original_topic == topic, f"a letter from elsewhere: {letter}"
        assert letter.original_partition is not None and letter.original_offset is not None
        by_origin.setdefault((letter.original_partition, letter.original_offset),
                             []).append(letter)
    expected = {s.position: s for s in bad}
    unexpected = [(p, where.get(ls[0].message_id or "")) for p, ls in by_origin.items()
                  if p not in expected]
    assert not unexpected, f"dead letters for records that are not bad: {unexpected[:5]}"
    unlettered = [(s.position, s.planned.label) for s in bad if s.position not in by_origin]
    assert not unlettered, f"{len(unlettered)} bad records not dead-lettered, " \
                           f"e.g. {unlettered[:5]}"
    for position, found in by_origin.items():
        record = expected[position]
        want = record.planned.bad
        assert want is not None
        if not redelivered:
            assert len(found) == 1, f"{record.planned.label} at {position}: {len(found)} letters"
        for letter in found:
            context = (f"{record.planned.label} at {position}: {letter.category} "
                       f"{letter.error_class}: {letter.error_message}")
            assert letter.category == want.category, context
            allowed = want.error_classes + ((CRASH_LOOP,) if killed else ())
            assert letter.error_class in allowed, context
            assert letter.message_id == record.message_id, context
            assert letter.consumer_group == group, context
            assert (letter.key, letter.value) == (record.planned.key, record.planned.value), \
                context
            assert letter.error_message and letter.stacktrace, context
            assert letter.first_failure_ms and letter.last_failure_ms, context
            if want.category == "data":
                assert letter.attempts == 1, context
            elif letter.error_class == HANDLER_BUG:
                assert letter.attempts == max_attempts, context
    repeats = Counter(expected[p].planned.label for p, found in by_origin.items()
                      for _ in found[1:])
    return Verdict(records=len(sent), good_ids=len(good_ids),
                   duplicate_copies=len(good) - len(good_ids), bad_records=len(bad),
                   dead_letters=len(letters), repeated_letters=len(letters) - len(bad),
                   repeated_letter_kinds=dict(repeats),
                   handler_calls_good=good_calls, repeated_calls=repeated,
                   poison_calls=sum(calls[i] for i in bad_ids))

