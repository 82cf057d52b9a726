"""Ordering lanes: which buffered messages may go to a handler now.

Every message carries a ``lane`` (its key, its partition, or None when unordered). At most one
message per lane is ready or running at a time; the others wait behind it in offset order, so
a slow or retrying message holds back only its own lane. Not thread-safe: the executor owns it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

_FREE = object()


def lane_of(ordering: str) -> Callable[[Any, int], Any]:
    """The lane function for ``--ordering``: (key, partition) -> lane."""
    if ordering == "key":
        # Keyless records have no key order to keep: they fall back to their partition's order.
        return lambda key, partition: partition if key is None else key
    if ordering == "partition":
        return lambda key, partition: partition
    return lambda key, partition: None


class Dispatcher:
    def __init__(self, ordering: str) -> None:
        self.unordered = ordering == "unordered"
        self.ready: deque[Any] = deque()
        # lane -> messages waiting behind the lane's ready or running one (None: none waiting).
        self._lanes: dict[Any, deque[Any] | None] = {}

    def add(self, messages: Iterable[Any]) -> None:
        if self.unordered:
            self.ready.extend(messages)
            return
        lanes, ready = self._lanes, self.ready
        for message in messages:
            lane = message.lane
            waiting = lanes.get(lane, _FREE)
            if waiting is _FREE:
                lanes[lane] = None
                ready.append(message)
            elif waiting is None:
                lanes[lane] = deque((message,))
            else:
                waiting.append(message)  # type: ignore[attr-defined]

    def take(self, count: int) -> list[Any]:
        ready = self.ready
        if count >= len(ready):
            taken = list(ready)
            ready.clear()
            return taken
        return [ready.popleft() for _ in range(count)]

    def release(self, message: Any) -> None:
        """The message is finished with its lane: the next one of the lane becomes ready."""
        if self.unordered:
            return
        lane = message.lane
        waiting = self._lanes.get(lane)
        if waiting:
            self.ready.append(waiting.popleft())
        else:
            self._lanes.pop(lane, None)

    def requeue(self, message: Any) -> None:
        """A message that already holds its lane (a retry that is due) goes first."""
        self.ready.appendleft(message)

    def __len__(self) -> int:
        return len(self.ready) + sum(len(w) for w in self._lanes.values() if w)

    def queued(self) -> list[Any]:
        """Messages not handed to a handler yet."""
        waiting = [m for w in self._lanes.values() if w for m in w]
        return [*self.ready, *waiting]

    def drop(self, keep: Callable[[Any], bool]) -> list[Any]:
        """Removes the queued messages ``keep`` rejects (a revoked partition's, say) and
        returns them. Lanes whose head is running keep their surviving waiters."""
        dropped: list[Any] = []
        if self.unordered:
            dropped = [m for m in self.ready if not keep(m)]
            self.ready = deque(m for m in self.ready if keep(m))
            return dropped

        def survivors(waiting: deque[Any] | None) -> deque[Any]:
            kept: deque[Any] = deque()
            for message in waiting or ():
                (kept if keep(message) else dropped).append(message)
            return kept

        ready_lanes = {m.lane for m in self.ready}
        lanes: dict[Any, deque[Any] | None] = {
            lane: survivors(waiting) or None
            for lane, waiting in self._lanes.items() if lane not in ready_lanes}
        ready: deque[Any] = deque()
        for head in self.ready:
            rest = survivors(self._lanes.get(head.lane))
            if keep(head):
                ready.append(head)
            elif rest:
                dropped.append(head)
                ready.append(rest.popleft())
            else:
                dropped.append(head)
                continue
            lanes[head.lane] = rest or None
        self.ready, self._lanes = ready, lanes
        return dropped
