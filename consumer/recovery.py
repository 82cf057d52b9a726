"""Stage 4 (dispatch), crash-loop protection. Before messages go to handlers, the highest
offset handed out per partition is recorded (``AttemptLedger.mark``). A partition assigned with
that mark at or above its committed offset was not let go cleanly: a process died with those
messages in flight, perhaps because of one of them. Those suspects then run one at a time, each
charged an attempt in Redis before it starts, so a crash is blamed on the one message running;
one whose attempts are spent is dead-lettered without running (``CrashLoopError``) instead of
taking the group down again. The rest of the partition waits until the suspects are settled.

It also restores attempt counts of messages that failed under a previous owner.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import CrashLoopError, RedisUnavailable
from .ledger import AttemptLedger

log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, ledger: AttemptLedger, max_attempts: int,
                 keep_going_without_redis: bool = False) -> None:
        self._ledger = ledger
        self._keep_going = keep_going_without_redis
        self._max_attempts = max_attempts
        # Messages whose attempts a crash loop spent: to dead-letter without running them.
        self.crash_looped: list[tuple[Any, CrashLoopError]] = []
        self._counts: dict[int, dict[int, int]] = {}   # partition -> offset -> attempts
        self._suspect_until: dict[int, int] = {}       # partition -> last suspect offset
        self._suspects: deque[Any] = deque()
        self._held: list[Any] = []
        self._unmarked: list[Any] = []     # cleared to run once their mark is in Redis
        self._to_clear: dict[int, list[int]] = {}
        self.current: Any = None
        self.redis_down = False

    @property
    def active(self) -> bool:
        return bool(self._suspect_until or self._suspects or self.current is not None)

    def assigned(self, partition: int, committed: int | None) -> None:
        counts, mark = self._ledger.load(partition)
        if counts:
            self._counts[partition] = counts
        if mark is not None and mark >= (committed or 0):
            log.warning("partition %d was not let go cleanly: offsets %d..%d run one at a "
                        "time, each charged an attempt first", partition, committed or 0, mark)
            self._suspect_until[partition] = mark

    def released(self, partition: int, *, clean: bool) -> None:
        """The partition is let go; ``clean``: drained and committed."""
        self._counts.pop(partition, None)
        self._suspect_until.pop(partition, None)
        if clean:
            self._ledger.release(partition)

    def admit(self, messages: list[Any]) -> list[Any]:
        """What may run now, marked in Redis first. Never raises: while Redis is down,
        messages wait here (``redis_down``) and ``poll()`` hands them out later."""
        if self._counts:
            for message in messages:
                counts = self._counts.get(message.partition)
                if counts and message.offset in counts:
                    message.attempt = counts[message.offset] + 1
        if not self.active:
            self._unmarked.extend(messages)
            return self._release()
        for message in messages:
            until = self._suspect_until.get(message.partition)
            if until is not None and message.offset <= until:
                self._suspects.append(message)
            else:
                self._held.append(message)
            if until is not None and message.offset >= until:
                del self._suspect_until[message.partition]   # the last suspect is fetched
        return self._next()

    def fetched_past(self, partition: int, offset: int) -> None:
        """A record at ``offset`` was read (a duplicate or bad data perhaps): suspects
        beyond it in that partition, if any, are still to come; none are when it is the last."""
        until = self._suspect_until.get(partition)
        if until is not None and offset >= until:
            del self._suspect_until[partition]

    def failed(self, message: Any) -> None:
        """A handler call failed and will be retried: the attempt is on record."""
        try:
            self._ledger.charge(message.partition, message.offset)
        except RedisUnavailable as exc:
            log.debug("attempt of %r not recorded: %s", message, exc)

    def settled(self, message: Any) -> list[Any]:
        """A message is done or dead-lettered: what may run next."""
        if message.attempt > 1:
            self._to_clear.setdefault(message.partition, []).append(message.offset)
            counts = self._counts.get(message.partition)
            if counts:
                counts.pop(message.offset, None)
        if message is not self.current:
            return []
        self.current = None
        # Cleared before the next suspect runs: if that one kills the process, this one must
        # not carry the charge into the next recovery.
        self._clear()
        return self._next()

    def _clear(self) -> None:
        if self._to_clear:
            try:
                self._ledger.clear(self._to_clear)
                self._to_clear = {}
            except RedisUnavailable:
                pass  # counts expire anyway; a stale one only overstates attempts

    def poll(self) -> list[Any]:
        """Once per loop turn: forgets settled counts in Redis, and hands out what waited
        for Redis."""
        self._clear()
        if not self.redis_down:
            return []
        released = self._release()
        return released if self.redis_down else released + self._next()

    def _next(self) -> list[Any]:
        while self._suspects and self.current is None:
            message = self._suspects[0]
            try:
                message.attempt = self._ledger.charge(message.partition, message.offset) + 1
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
            self._unmarked.append(message)
            return self._release()
        if self.active:
            return []
        self._unmarked.extend(self._held)
        self._held = []
        return self._release()

    def _release(self) -> list[Any]:
        messages = self._unmarked
        if not messages:
            return []
        highest: dict[int, int] = {}
        for message in messages:
            if message.offset > highest.get(message.partition, -1):
                highest[message.partition] = message.offset
        try:
            self._ledger.mark(highest)
            self.redis_down = False
        except RedisUnavailable:
            self.redis_down = True
            if not self._keep_going:
                return []
        self._unmarked = []
        return messages

    def discard(self, keep: Callable[[Any], bool]) -> list[Any]:
        """Drops the waiting messages ``keep`` rejects; returns them."""
        waiting = [*self._suspects, *self._held, *self._unmarked]
        self._suspects = deque(m for m in self._suspects if keep(m))
        self._held = [m for m in self._held if keep(m)]
        self._unmarked = [m for m in self._unmarked if keep(m)]
        return [m for m in waiting if not keep(m)]
