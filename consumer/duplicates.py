"""Stage 3 (dedup): messages whose id is already done are dropped before dispatch; a second
copy of an id still in flight here waits for the first copy's outcome instead of racing it.
Redis (through ``DedupStore``) is the authority; an id is recorded only after its handler
succeeded, so a dead-lettered id stays processable (by its replay)."""

from __future__ import annotations

import logging
from collections import deque
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

    def admit(self, messages: list[Any]) -> tuple[list[Any], list[Any]]:
        """(fresh, duplicates). Raises RedisUnavailable (unless told to keep going), in which
        case nothing was admitted and the caller tries the same batch again later."""
        candidates = []
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
                candidates.append(message)
        try:
            seen = self._store.seen([m.message_id for m in candidates])
            self.redis_down = False
        except RedisUnavailable:
            self.redis_down = True
            if not self._keep_going:
                self._forget(candidates)
                raise
            seen = [False] * len(candidates)
        fresh, duplicates = [], []
        for message, was_seen in zip(candidates, seen, strict=True):
            if was_seen:
                duplicates.extend(self.settled(message, succeeded=True))
                duplicates.append(message)
            else:
                fresh.append(message)
        return fresh, duplicates

    def _forget(self, candidates: list[Any]) -> None:
        """Undoes admit() for a batch Redis could not check (its copies are in it too)."""
        for message in candidates:
            self._in_flight.pop(message.message_id, None)

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
        """The first copy of an id is settled. On success its waiting copies are duplicates,
        returned for completion; otherwise the next copy becomes the first and is returned
        (as a one-element list) for dispatch by the caller."""
        waiting = self._in_flight.pop(message.message_id, None)
        if not waiting:
            return []
        if succeeded:
            return list(waiting)
        successor = waiting.popleft()
        self._in_flight[successor.message_id] = waiting or None
        return [successor]

    def drop(self, keep: Any) -> None:
        """Forgets copies waiting here that ``keep`` rejects (their partition was revoked)."""
        for message_id, waiting in list(self._in_flight.items()):
            if waiting:
                survivors = deque(m for m in waiting if keep(m))
                self._in_flight[message_id] = survivors or None

    @property
    def counters(self) -> dict[str, int]:
        """The store's running counts (dedup check results, Redis round trips)."""
        return asdict(self._store.counters)

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._in_flight.values() if w)
