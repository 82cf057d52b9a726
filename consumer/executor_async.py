"""Async handlers on one event loop in a thread of its own: ``concurrency`` long-lived worker
coroutines (no task per message) sharing the dispatcher, which only the loop touches."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import RedisUnavailable
from .executor import Executor
from .outcome import Verdict


class AsyncExecutor(Executor):
    """Async handlers as ``concurrency`` worker coroutines on one event loop in its own thread.
    Workers are long-lived (no task per message); idle ones park on a future."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._idle: deque[asyncio.Future[None]] = deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._run_loop, name="handler-loop", daemon=True)
        self._wake_handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        workers = [self._loop.create_task(self._worker()) for _ in range(self._concurrency)]
        self._loop.run_until_complete(asyncio.gather(*workers))

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Runs ``fn`` on the loop and waits for its result."""
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            box.append(fn())
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait()
        return box[0]

    def submit(self, messages: list[Any]) -> None:
        self._loop.call_soon_threadsafe(self._accept, messages)

    def _accept(self, messages: list[Any]) -> None:
        self._dispatcher.add(messages)
        self._wake()

    def _wake(self) -> None:
        # Only for work that can start now: a worker woken for a gated dispatch or a retry
        # not yet due finds nothing, parks, and wakes itself again, a spin that never yields
        # to the loop. The timer below wakes workers once the gate or the retry is due.
        now = time.monotonic()
        if now < self._gate_until:
            count = 0
        else:
            retry_due = bool(self._timers) and self._timers[0][0] <= now
            count = len(self._dispatcher.ready) or (1 if retry_due else 0)
        while self._idle and count > 0:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1
        delay = self._next_wake_s()
        if delay is None:
            return
        due = self._loop.time() + delay
        if self._wake_handle is None or due < self._wake_handle.when():
            if self._wake_handle is not None:
                self._wake_handle.cancel()
            self._wake_handle = self._loop.call_at(due, self._timer_wake)

    def _timer_wake(self) -> None:
        self._wake_handle = None
        self._wake()

    async def _worker(self) -> None:
        func, results = self._func, self.results
        clock = time.perf_counter
        while True:
            chunk = self._chunk()
            if not chunk:
                if self._stopping:
                    return
                waiter = self._loop.create_future()
                self._idle.append(waiter)
                self._wake()
                await waiter
                continue
            try:
                chunk, done = self._stale(chunk)
            except RedisUnavailable:
                self._put_back(chunk)
                continue
            self._found_done(done)
            if not chunk:
                continue
            done = []
            durations = self.durations   # None once the observer finds metrics off
            chunk_started = clock()
            for message in chunk:
                started = clock()
                try:
                    await func(message)
                except BaseException as error:  # a handler bug must not kill its worker
                    if durations is not None:
                        durations.append(clock() - started)
                    if self._failed(message, error):
                        self._dispatcher.release(message)
                    self._wake()
                    continue
                if durations is not None:
                    durations.append(clock() - started)
                done.append(message)
                self._dispatcher.release(message)
            if done:
                results.append((done, Verdict.DONE))
            self._timed(len(chunk), clock() - chunk_started)
            self.running -= len(chunk)
            if self._dispatcher.ready:
                self._wake()

    def drop(self, keep: Callable[[Any], bool]) -> list[Any]:
        return self._call(lambda: self._dispatcher.drop(keep) + self._drop_timers(keep))

    def queued(self) -> list[Any]:
        return self._call(self._queued_locked)

    def busy(self) -> int:
        return self._call(lambda: self.running + len(self._dispatcher) + len(self._timers))

    def stop(self, timeout_s: float) -> None:
        def stop_workers() -> None:
            self._stopping = True
            while self._idle:
                waiter = self._idle.popleft()
                if not waiter.done():
                    waiter.set_result(None)

        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(stop_workers)
            self._thread.join(timeout_s)
