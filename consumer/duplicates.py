"""Stage 3 (dedup). Redis (through ``DedupStore``) is the authority on which ids are done; an
id is recorded only after its handler succeeded, so a dead-lettered id stays processable (by
its replay).

Two checks, at the two moments that matter:
- ``admit``, as messages are taken in: a second copy of an id still in flight in this process
  waits for the first copy's outcome instead of racing it (no Redis involved);
- ``screen``, just before messages go to handlers (the executor calls it for the ready
  messages it has not screened in the last few milliseconds): asks the store, so a copy that
  another member finished while this one sat in the buffer is dropped, not handled again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .errors import RedisUnavailable

log = logging.getLogger(__name__)


class DuplicateFilter:
    def __init__(self, store: Any, keep_going_without_redis: bool) -> None:
        self._store = store
        self._keep_going = keep_going_without_redis
        # id -> later copies waiting for the first copy's outcome (None: no copy waiting)
        self._in_flight: dict[str, deque[Any] | None] = {}
        self.redis_down = False

    def admit(self, messages: list[Any]) -> list[Any]:
        """The messages that are the only copy of their id in flight; the others wait."""
        first = []
        in_flight = self._in_flight
        for message in messages:
            message_id = message.message_id
            if message_id in in_flight:
                waiting = in_flight[message_id]
                if waiting is None:
                    in_flight[message_id] = deque((message,))
                else:
                    waiting.append(message)
            else:
                in_flight[message_id] = None
                first.append(message)
        return first

    def screen(self, messages: list[Any], also: Callable[[Any], None] | None = None
               ) -> list[bool]:
        """Per message: True when its id is already done (drop it). ``also`` queues the
        caller's commands on the lookup's round trip (``DedupStore.seen``). Raises
        RedisUnavailable, even when told to keep going without Redis: the caller (``prestart``)
        then counts nothing as done, knowing that ``also`` may not have been applied."""
        try:
            seen: list[bool] = self._store.seen([m.message_id for m in messages], also)
            self.redis_down = False
            return seen
        except RedisUnavailable:
            self.redis_down = True
            raise

    def record(self, messages: list[Any]) -> None:
        """Done marks for messages whose handler succeeded; raises RedisUnavailable."""
        try:
            self._store.record([m.message_id for m in messages])
            self.redis_down = False
        except RedisUnavailable:
            self.redis_down = True
            if not self._keep_going:
                raise

    def settled(self, message: Any, *, succeeded: bool) -> list[Any]:
        """The first copy of an id is settled. On success (or found done) its waiting copies
        are duplicates, returned for completion; otherwise the next copy becomes the first and
        is returned (as a one-element list) for dispatch by the caller."""
        waiting = self._in_flight.pop(message.message_id, None)
        if not waiting:
            return []
        if succeeded:
            return list(waiting)
        successor = waiting.popleft()
        self._in_flight[successor.message_id] = waiting or None
        return [successor]

    def settled_done(self, messages: list[Any]) -> list[Any]:
        """``settled(succeeded=True)`` for a batch: the copies that waited behind them."""
        pop = self._in_flight.pop
        follow: list[Any] = []
        for message in messages:
            waiting = pop(message.message_id, None)
            if waiting:
                follow += waiting
        return follow

    def drop(self, keep: Any) -> list[Any]:
        """Forgets copies waiting here that ``keep`` rejects (their partition was revoked)."""
        dropped = []
        for message_id, waiting in list(self._in_flight.items()):
            if waiting:
                dropped += [m for m in waiting if not keep(m)]
                self._in_flight[message_id] = deque(m for m in waiting if keep(m)) or None
        return dropped

    @property
    def counters(self) -> dict[str, int]:
        """The store's running counts (dedup check results, Redis round trips)."""
        return asdict(self._store.counters)
