"""Sync handlers on ``concurrency`` worker threads sharing the dispatcher under one lock."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import RedisUnavailable
from .executor import CHUNK_BUDGET_S, Executor
from .outcome import Verdict

# A worker that took its chunk longer ago than this may be stuck in a slow call: ready
# messages do not count on it to take them next.
TAKING_FRESH_S = 2 * CHUNK_BUDGET_S


class ThreadExecutor(Executor):
    """Sync handlers on ``concurrency`` threads sharing the dispatcher under one lock; each
    takes a chunk of ready messages at a time, so the lock is not a per-message cost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cond = threading.Condition()
        self._stopping = False
        self._took_at: dict[int, float] = {}   # worker -> when it took its chunk (awake ones)
        self._threads = [threading.Thread(target=self._worker, args=(i,), name=f"handler-{i}",
                                          daemon=True) for i in range(self._concurrency)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, messages: list[Any]) -> None:
        with self._cond:
            self._dispatcher.add(messages)
            self._wake(None)

    def _wake(self, me: int | None) -> None:
        """Wakes the idle workers the ready messages need: one per chunk, and no more than
        one per CHUNK_BUDGET_S of work at the handler's pace, less the workers that will take
        the next chunk anyway (the caller, and those that took theirs just now). Waking more
        only has them fight over the lock and the GIL: with fast handlers one worker taking
        full chunks goes fastest. The pace bound matters for handlers so fast that MAX_CHUNK
        caps their chunks: 2,000 calls of 1 µs are 8 chunks but 2 ms of work, which the
        worker holding the GIL gets through before the others it woke get going (they found
        nothing to take 2.7 times per chunk taken). Called with the lock held."""
        ready = len(self._dispatcher.ready)
        wanted = min(-(-ready // self.chunk_size()),
                     math.ceil(ready * self._pace_s / CHUNK_BUDGET_S))
        if wanted:
            fresh = time.monotonic() - TAKING_FRESH_S
            wanted -= sum(1 for worker, took_at in self._took_at.items()
                          if worker == me or took_at > fresh)
        if me is not None and self._timers:
            # the chunk may have set a timer: an idle worker's wait must end by the earliest
            wanted = max(wanted, 1)
        if wanted > 0:
            self._cond.notify(wanted)

    def nudge(self) -> None:
        """Ready messages left to a worker that has since been held up by a slow call get an
        idle worker now."""
        with self._cond:
            self._wake(None)

    def _worker(self, me: int) -> None:
        func, results = self._func, self.results
        clock = time.perf_counter
        while True:
            with self._cond:
                chunk = self._chunk()
                while not chunk:
                    self._took_at.pop(me, None)
                    if self._stopping:
                        return
                    self._cond.wait(self._next_wake_s())
                    chunk = self._chunk()
                self._took_at[me] = time.monotonic()
            try:
                chunk, done = self._stale(chunk)
            except RedisUnavailable:
                with self._cond:
                    self._put_back(chunk)
                continue
            if done:
                with self._cond:
                    self._found_done(done)
                if not chunk:
                    continue
            done, failed, calls = [], [], []
            chunk_started = clock()
            for message in chunk:
                started = clock()
                try:
                    func(message)
                except BaseException as error:  # a handler's bug must not kill its worker
                    calls.append(clock() - started)
                    with self._cond:   # drop() rebuilds the timer heap under this lock
                        leaves_lane = self._failed(message, error)
                    if leaves_lane:
                        failed.append(message)
                    continue
                calls.append(clock() - started)
                done.append(message)
            durations = self.durations   # None once the observer finds metrics off
            if durations is not None:
                durations.extend(calls)
            self._timed(len(chunk), clock() - chunk_started, sorted(calls)[len(calls) // 2])
            if done:
                results.append((done, Verdict.DONE))
            with self._cond:
                release = self._dispatcher.release
                for message in done:
                    release(message)
                for message in failed:
                    release(message)
                self.running -= len(chunk)
                self._wake(me)

    def drop(self, keep: Callable[[Any], bool]) -> list[Any]:
        with self._cond:
            return self._dispatcher.drop(keep) + self._drop_timers(keep)

    def queued(self) -> list[Any]:
        with self._cond:
            return self._queued_locked()

    def busy(self) -> int:
        with self._cond:
            return self.running + len(self._dispatcher) + len(self._timers)

    def stop(self, timeout_s: float) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
