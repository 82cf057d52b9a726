"""Stage 4 (dispatch), crash-loop protection. Batches of offsets are recorded in Redis as
running before their handlers start (``plan_start``, from the feeder's pre-start step) and
removed once all of them settled. A partition assigned with offsets still recorded as running was not let
go cleanly: a process died with them in flight, perhaps because of one of them. Those suspects
then run one at a time, each charged an attempt in Redis first, so a crash is blamed on the one
message running; one whose attempts are spent is dead-lettered without running
(``CrashLoopError``) instead of taking the group down again. The rest waits meanwhile; the
suspects are few (what was in flight), so this pass is short.

It also restores attempt counts of messages that failed under a previous owner.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import CrashLoopError, RedisUnavailable
from .ledger import AttemptLedger, pack_offsets

log = logging.getLogger(__name__)
FORGET_EVERY_S = 0.25


class RunningBatch:
    """Offsets of one partition handed to handlers together; gone from Redis once all settle."""

    __slots__ = ("left", "member", "partition")

    def __init__(self, partition: int, member: bytes, left: int) -> None:
        self.partition = partition
        self.member = member
        self.left = left


class Start:
    """Messages about to start, by partition, and their batches' ledger members."""

    def __init__(self, ledger: AttemptLedger, by_partition: dict[int, list[Any]]) -> None:
        self._ledger = ledger
        self._by_partition = by_partition
        self.members = {p: pack_offsets([m.offset for m in batch])
                        for p, batch in by_partition.items()}

    def record(self) -> None:
        """In a round trip of its own. Raises RedisUnavailable."""
        self._ledger.starting(self.members)
        self.recorded()

    def queue(self, pipe: Any) -> None:
        """Queues the record on another caller's pipeline, whose round trip it then is."""
        self._ledger.queue_starting(pipe, self.members)

    def recorded(self) -> None:
        for partition, batch in self._by_partition.items():
            running = RunningBatch(partition, self.members[partition], len(batch))
            for message in batch:
                message.batch = running


class Recovery:
    def __init__(self, ledger: AttemptLedger, max_attempts: int,
                 keep_going_without_redis: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._clock = clock
        self._keep_going = keep_going_without_redis
        self._max_attempts = max_attempts
        self._counts: dict[int, dict[int, int]] = {}   # partition -> offset -> attempts
        self._expected: dict[int, set[int]] = {}       # suspects not fetched yet
        self._suspects: deque[Any] = deque()
        self._held: list[Any] = []
        self._settled: dict[int, list[bytes]] = {}     # batches to remove from Redis
        self._counted: dict[int, list[int]] = {}       # to remove from the counts
        self._forget_at = 0.0
        self.current: Any = None
        self.redis_down = False
        # Messages whose attempts a crash loop spent: to dead-letter without running them.
        self.crash_looped: list[tuple[Any, CrashLoopError]] = []

    @property
    def roundtrips(self) -> int:
        return self._ledger.roundtrips

    @property
    def active(self) -> bool:
        return bool(self._expected or self._suspects or self.current is not None)

    @property
    def awaited(self) -> frozenset[int]:
        """Partitions with suspects not fetched yet: everything else waits for them."""
        return frozenset(self._expected)

    def assigned(self, partition: int, committed: int | None) -> None:
        counts, running = self._ledger.load(partition)
        if counts:
            self._counts[partition] = counts
        suspects = {o for o in running if o >= (committed or 0)}
        if suspects:
            log.warning("partition %d was not let go cleanly: %d message(s) in flight then "
                        "run one at a time, each charged an attempt first", partition,
                        len(suspects))
            self._expected[partition] = suspects

    def released(self, partition: int, *, clean: bool) -> None:
        """The partition is let go; ``clean``: drained and committed."""
        self._counts.pop(partition, None)
        self._expected.pop(partition, None)
        self._settled.pop(partition, None)
        if clean:
            self._ledger.release(partition)

    def admit(self, messages: list[Any]) -> list[Any]:
        """What may run now: everything, unless suspects of a crash are to run first."""
        if self._counts:
            for message in messages:
                counts = self._counts.get(message.partition)
                if counts and message.offset in counts:
                    message.attempt = counts[message.offset] + 1
        if not self.active:
            return messages
        for message in messages:
            expected = self._expected.get(message.partition)
            if expected is not None and message.offset in expected:
                self._suspects.append(message)
                self.fetched_past(message.partition, message.offset)
            else:
                self._held.append(message)
        return self._next()

    def fetched_past(self, partition: int, offset: int) -> None:
        """Every record up to ``offset`` was read: suspects among them that never reached
        ``admit`` (duplicates, bad data) are not coming."""
        expected = self._expected.get(partition)
        if expected is None:
            return
        expected.difference_update([o for o in expected if o <= offset])
        if not expected:
            del self._expected[partition]

    def failed(self, message: Any) -> None:
        """A handler call failed and will be retried: the attempt is on record."""
        try:
            self._ledger.charge(message.partition, message.offset)
        except RedisUnavailable as exc:
            log.debug("attempt of %r not recorded: %s", message, exc)

    def plan_start(self, messages: list[Any]) -> Start:
        """Messages about to be handed to handlers, to put on record as running (one batch
        per partition) before they start: ``record`` them in a round trip of their own, or
        ``queue`` them on another caller's pipeline and call ``recorded`` once it applied."""
        by_partition: dict[int, list[Any]] = {}
        for message in messages:
            by_partition.setdefault(message.partition, []).append(message)
        return Start(self._ledger, by_partition)

    def settled(self, messages: list[Any]) -> list[Any]:
        """Messages are done or dead-lettered: what may run next."""
        for message in messages:
            running = message.batch
            if running is not None:
                running.left -= 1
                if not running.left:
                    self._settled.setdefault(running.partition, []).append(running.member)
            if message.attempt > 1:
                self._counted.setdefault(message.partition, []).append(message.offset)
                counts = self._counts.get(message.partition)
                if counts:
                    counts.pop(message.offset, None)
        if self.current is None or self.current not in messages:
            return []
        self.current = None
        # Forgotten before the next suspect runs: if that one kills the process, this one
        # must not carry the charge into the next recovery.
        self._forget()
        return self._next()

    def poll(self) -> list[Any]:
        """Once per loop turn: forgets settled batches in Redis (every few tenths of a second
        at most: an entry left a little longer only makes a recovery look at a batch that was
        done), and hands out suspects that waited for Redis."""
        if (self._settled or self._counted) and self._clock() >= self._forget_at:
            self._forget()
        return self._next() if self.redis_down else []

    def _forget(self) -> None:
        self._forget_at = self._clock() + FORGET_EVERY_S
        try:
            self._ledger.settled(self._settled, self._counted)
            self._settled, self._counted = {}, {}
        except RedisUnavailable:
            pass  # kept for the next time; stale entries only cost a careful recovery

    def _next(self) -> list[Any]:
        while self._suspects and self.current is None:
            message = self._suspects[0]
            try:
                message.attempt = self._ledger.charge(message.partition, message.offset) + 1
                self.redis_down = False
            except RedisUnavailable:
                self.redis_down = True
                if not self._keep_going:
                    return []
            self._suspects.popleft()
            if message.attempt > self._max_attempts:
                message.attempt -= 1   # the dead letter counts the attempts that happened
                self.crash_looped.append((message, CrashLoopError(
                    f"the process died {message.attempt} times while this message was in "
                    f"flight", raw=message.raw)))
                continue
            self.current = message
            return [message]
        if self.active:
            return []
        held, self._held = self._held, []
        return held

    def discard(self, keep: Callable[[Any], bool]) -> list[Any]:
        """Drops the waiting messages ``keep`` rejects; returns them."""
        waiting = [*self._suspects, *self._held]
        self._suspects = deque(m for m in self._suspects if keep(m))
        self._held = [m for m in self._held if keep(m)]
        return [m for m in waiting if not keep(m)]
