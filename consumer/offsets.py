"""At-least-once offset tracking: per partition, the offsets taken in and the ones done, and
the commit position (next offset to read) below which everything is done. Handlers may finish
out of order; the position only moves over a contiguous done prefix."""

from __future__ import annotations

from collections import deque
from typing import Any


class PartitionTracker:
    """The in-memory state of one assigned partition. Offsets arrive in increasing order (one
    partition is read in order); completions arrive in any order, each exactly once."""

    __slots__ = ("_abandoned", "_done", "active", "dirty", "partition", "pending", "position",
                 "topic")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.pending: deque[Any] = deque()  # messages taken in, not yet below the position
        self._done: set[int] = set()         # done offsets above the position
        self._abandoned: set[int] = set()    # dropped while letting go: never to be done here
        self.position: int | None = None     # the offset to commit; None until one is done
        self.dirty = False                   # position moved since the runtime last stored it
        self.active = True                   # False once revoked: late completions are ignored

    def track(self, message: Any) -> None:
        self.pending.append(message)

    def complete(self, offset: int) -> None:
        pending = self.pending
        if not pending or pending[0].offset != offset:
            self._done.add(offset)
            return
        pending.popleft()
        last = offset
        done = self._done
        while pending and done:
            head = pending[0].offset
            if head not in done:
                break
            done.remove(head)
            pending.popleft()
            last = head
        self.position = last + 1
        self.dirty = True

    def __len__(self) -> int:
        return len(self.pending)

    def oldest_pending(self) -> Any:
        """The oldest message not yet done (its timestamp is the lag in seconds), or None."""
        return self.pending[0] if self.pending else None

    def abandon(self, offset: int) -> None:
        self._abandoned.add(offset)

    def outstanding(self) -> int:
        """Messages still to settle here: neither done nor abandoned (in a handler, say)."""
        skip = self._done | self._abandoned
        return sum(1 for message in self.pending if message.offset not in skip)

    def highest_started(self, queued: set[int]) -> int:
        """The highest pending offset not in ``queued``: handed to a handler (running or done),
        or -1. Work below it is worth finishing before a partition is let go: a finished
        message above a gap would be handled again by whoever reads from the position."""
        for message in reversed(self.pending):
            if message.offset not in queued:
                return int(message.offset)
        return -1
