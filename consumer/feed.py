"""Stage 4 (dispatch): admitted messages wait here, on the poll thread, until the handlers are
about to need them. Then the pre-start step looks at a whole batch at once (dedup's screen, the
crash ledger: ``prestart``) and the batch goes to the executor. Keeping the executor's queue
short keeps the time between that look and the handler call short (a copy finished by another
member meanwhile would be handled again), and keeps Redis off the handlers' threads."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import RedisUnavailable

# The executor is topped up with enough ready messages to keep each handler slot busy for
# about FEED_AHEAD_S at the handler's typical pace, and at least READY_PER_SLOT per slot,
# within these bounds: a turn of the poll loop (decoding a batch) takes ~10 ms, and handlers
# that run dry meanwhile wait for the next (with one slot and chunks of two, half the speed).
FEED_AHEAD_S = 0.02
READY_PER_SLOT = 2
READY_MIN = 64
READY_MAX = 2000
PRESTART_RETRY_S = 1.0


class Feeder:
    def __init__(self, executor: Any, prestart: Callable[[list[Any]], list[bool]] | None,
                 clock: Callable[[], float]) -> None:
        self._executor = executor
        self._prestart = prestart
        self._clock = clock
        self._staged: deque[Any] = deque()
        self._retry_at = 0.0
        self.redis_down = False

    def add(self, messages: list[Any]) -> None:
        if self._prestart is None:
            self._executor.submit(messages)   # nothing to look at first: straight on
        else:
            self._staged.extend(messages)

    def feed(self) -> list[Any]:
        """Tops the executor up; returns the staged messages found already done elsewhere
        (to complete as duplicates)."""
        room = self.room()
        if room <= 0:
            return []
        now = self._clock()
        executor = self._executor
        staged = self._staged
        batch = [staged.popleft() for _ in range(room)]
        try:
            seen = self._prestart(batch)  # type: ignore[misc]
        except RedisUnavailable:
            self.redis_down = True
            self._retry_at = now + PRESTART_RETRY_S
            staged.extendleft(reversed(batch))
            return []
        self.redis_down = False
        runnable: list[Any] = []
        done: list[Any] = []
        for message, was_seen in zip(batch, seen, strict=True):
            message.screened_at = now
            (done if was_seen else runnable).append(message)
        if runnable:
            executor.submit(runnable)
        return done

    def room(self) -> int:
        """How many staged messages ``feed`` would hand to the executor now."""
        if not self._staged or self._clock() < self._retry_at:
            return 0
        executor = self._executor
        per_slot = max(READY_PER_SLOT, int(FEED_AHEAD_S / executor.pace_s))
        target = min(READY_MAX, max(READY_MIN, per_slot * executor.concurrency))
        return min(len(self._staged), target - executor.ready_count())

    def drop(self, keep: Callable[[Any], bool]) -> list[Any]:
        dropped = [m for m in self._staged if not keep(m)]
        self._staged = deque(m for m in self._staged if keep(m))
        return dropped

    def queued(self) -> list[Any]:
        return list(self._staged)

    def __len__(self) -> int:
        return len(self._staged)
