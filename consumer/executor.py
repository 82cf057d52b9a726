"""Handler execution: ``concurrency`` calls in flight, lanes respected, retries waiting on a
timer while holding only their own lane, and never on the poll thread (a slow handler must not
hold the poll loop). Sync handlers run on worker threads (executor_threads.py), async handlers
on one event loop (executor_async.py); what they share is here.

Finished messages (done, or to be dead-lettered) are appended to ``results``, which the poll
loop drains; the decision itself is ``OutcomePolicy.decide``'s.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .dispatch import Dispatcher
from .outcome import OutcomePolicy, Verdict

MAX_CHUNK = 256
# A worker takes as many ready messages at once as it can handle in about this long: fast
# handlers amortise the lock over a chunk, slow ones take one at a time so no message waits
# behind a slow sibling while another worker idles.
CHUNK_BUDGET_S = 0.001
# The feeder runs the pre-start step (dedup's screen, the crash ledger) just before messages
# come here; one that then waited longer than this (behind its lane, say) gets it again before
# its handler call, so a copy another member finished meanwhile is not handled twice.
PRESTART_STALE_S = 0.25
PRESTART_RETRY_S = 1.0     # Redis did not answer: dispatch waits this long


class Executor:
    """What the sync and async executors share: the dispatcher, retry timers, the breaker
    gate, and turning a handler's failure into a retry or a result."""

    def __init__(self, func: Callable[[Any], Any], dispatcher: Dispatcher,
                 policy: OutcomePolicy, concurrency: int,
                 prestart: Callable[[list[Any]], list[bool]] | None = None) -> None:
        self._func = func
        self._prestart = prestart   # see consumer.prestart; None without Redis
        self._dispatcher = dispatcher
        self._policy = policy
        self._concurrency = concurrency
        self._timers: list[tuple[float, int, Any]] = []   # (due, seq, message) heap
        self._seq = itertools.count()
        self._gate_until = 0.0    # monotonic time before which nothing new is dispatched
        # (messages, verdict): one entry per chunk of successes, one per failure decided
        self.results: deque[tuple[list[Any], Verdict]] = deque()
        # Handler seconds, taken by the observer; None when metrics are off (nobody takes them)
        self.durations: list[float] | None = []
        self.running = 0
        self._call_s = CHUNK_BUDGET_S       # moving average of one handler call
        self._pace_s = CHUNK_BUDGET_S       # moving average of a typical call: sizes chunks

    # -- called with the dispatcher's lock held (sync) or on the loop (async) ----------------
    def _chunk(self) -> list[Any]:
        now = time.monotonic()
        self._fire_due(now)
        if now < self._gate_until:
            return []
        chunk = self._dispatcher.take(self.chunk_size())
        self.running += len(chunk)
        return chunk

    def chunk_size(self) -> int:
        """How many messages one worker takes at a time at most, by the handler's pace."""
        return max(1, min(MAX_CHUNK, int(CHUNK_BUDGET_S / self._pace_s)))

    def ready_count(self) -> int:
        return len(self._dispatcher.ready) + self.running

    @property
    def pace_s(self) -> float:
        """A typical handler call's duration (a moving median)."""
        return self._pace_s

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def _stale(self, chunk: list[Any]) -> tuple[list[Any], list[Any]]:
        """(chunk minus duplicates, duplicates) after the pre-start step looked again at the
        messages that waited long since it last did. Raises RedisUnavailable. Called without
        the dispatcher's lock: it may wait on Redis."""
        if self._prestart is None:
            return chunk, []
        now = time.monotonic()
        stale = [m for m in chunk if m.screened_at < now - PRESTART_STALE_S]
        if not stale:
            return chunk, []
        seen = self._prestart(stale)
        done = {id(m) for m, was_seen in zip(stale, seen, strict=True) if was_seen}
        for message in stale:
            message.screened_at = now
        if not done:
            return chunk, []
        return ([m for m in chunk if id(m) not in done], [m for m in chunk if id(m) in done])

    def _found_done(self, done: list[Any]) -> None:
        for message in done:
            self._dispatcher.release(message)
            self.results.append(([message], Verdict.DUPLICATE))
        self.running -= len(done)

    def _put_back(self, chunk: list[Any]) -> None:
        """Redis did not answer the pre-start step: the chunk goes back, dispatch waits."""
        for message in reversed(chunk):
            self._dispatcher.requeue(message)
        self.running -= len(chunk)
        self._gate_until = time.monotonic() + PRESTART_RETRY_S

    def _fire_due(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            self._dispatcher.requeue(heapq.heappop(timers)[2])

    def _next_wake_s(self) -> float | None:
        now = time.monotonic()
        candidates = [t - now for t in (self._gate_until,) if t > now]
        if self._timers:
            candidates.append(self._timers[0][0] - now)
        return max(0.0, min(candidates)) if candidates else None

    def _timed(self, chunk_size: int, elapsed_s: float, typical_s: float | None = None) -> None:
        """``typical_s``: the chunk's median call, when known. Sync workers wait for the GIL
        inside calls now and then (the poll thread holds it up to the switch interval, 20 ms):
        a chunk's mean would take a 1 µs handler for a 20 µs one and cut its chunks to a few
        dozen messages, each costing a wake-up and a GIL hand-over."""
        per_call = max(elapsed_s / chunk_size, 1e-7)
        self._call_s = 0.8 * self._call_s + 0.2 * per_call
        typical = per_call if typical_s is None else max(typical_s, 1e-7)
        self._pace_s = 0.8 * self._pace_s + 0.2 * typical

    def _failed(self, message: Any, error: BaseException) -> bool:
        """Carries out the decision on a failure; True when the message leaves its lane."""
        decision = self._policy.decide(message, error)
        if decision.verdict is Verdict.DEAD_LETTER:
            self.results.append(([message], Verdict.DEAD_LETTER))
            return True
        if decision.verdict is Verdict.RETRY:
            message.attempt += 1
            self.results.append(([message], Verdict.RETRY))
        else:  # WAIT: a breaker is open; stop dispatching until its next probe, charge nothing
            self._gate_until = max(self._gate_until, time.monotonic() + decision.delay_s)
        due = time.monotonic() + decision.delay_s
        heapq.heappush(self._timers, (due, next(self._seq), message))
        return False

    @property
    def call_s(self) -> float:
        """Moving average of one handler call, in seconds."""
        return self._call_s

    def gated(self) -> bool:
        return time.monotonic() < self._gate_until

    def nudge(self) -> None:
        """Called on every turn of the poll loop. Only the thread executor ever leaves ready
        messages to a busy worker (the async one's workers are tasks on one loop)."""

    def _drop_timers(self, keep: Callable[[Any], bool]) -> list[Any]:
        dropped = [t[2] for t in self._timers if not keep(t[2])]
        self._timers = [t for t in self._timers if keep(t[2])]
        heapq.heapify(self._timers)
        return dropped

    def _queued_locked(self) -> list[Any]:
        return self._dispatcher.queued() + [t[2] for t in self._timers]
