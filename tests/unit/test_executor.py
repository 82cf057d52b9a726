"""Handler execution on both executors, with the real dispatcher and outcome policy: every
message reported once, lanes never run twice at once, failures retried then dead-lettered
without holding other keys, an open breaker gating dispatch for free, drop and stop."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from consumer import executor as executor_module
from consumer.dispatch import Dispatcher
from consumer.errors import BreakerOpenError, RedisUnavailable, TransientError
from consumer.executor import Executor
from consumer.executor_async import AsyncExecutor
from consumer.executor_threads import TAKING_FRESH_S, ThreadExecutor
from consumer.outcome import OutcomePolicy, Verdict
from consumer.retry import BackoffPolicy

KINDS = ["thread", "async"]
WAIT_S = 5.0   # a generous bound for work that takes milliseconds: only a hang reaches it


def msg(key: str, offset: int, partition: int = 0, screened_at: float | None = None
        ) -> SimpleNamespace:
    return SimpleNamespace(key=key, lane=key, offset=offset, partition=partition,
                           message_id=f"{key}-{offset}", attempt=1, failure=None, batch=None,
                           screened_at=time.monotonic() if screened_at is None else screened_at)


def keyed(keys: str, per_key: int) -> list[SimpleNamespace]:
    """``per_key`` messages of each key, interleaved as a partition would hold them."""
    return [msg(k, i * len(keys) + j) for i in range(per_key) for j, k in enumerate(keys)]


def handler(kind: str, body: Callable[[Any], None], pause_s: float = 0.0) -> Any:
    """``body`` then a pause (where other calls may run) as a sync or an async handler."""
    if kind == "thread":
        def handle(message: Any) -> None:
            body(message)
            if pause_s:
                time.sleep(pause_s)
        return handle

    async def handle_async(message: Any) -> None:
        body(message)
        if pause_s:
            await asyncio.sleep(pause_s)
    return handle_async


class Run:
    """A started executor and everything it reported, drained as the poll loop drains it."""

    def __init__(self, kind: str, func: Any, *, concurrency: int = 4, max_attempts: int = 3,
                 prestart: Any = None, backoff: Any = None) -> None:
        policy = OutcomePolicy(max_attempts=max_attempts, backoff=backoff or BackoffPolicy(
            initial_backoff_ms=1, max_backoff_ms=5))
        cls = ThreadExecutor if kind == "thread" else AsyncExecutor
        self.executor: Executor = cls(func, Dispatcher("key"), policy, concurrency,
                                      prestart=prestart)
        self.executor.start()
        self.results: list[tuple[list[Any], Verdict]] = []

    def drain(self) -> list[tuple[list[Any], Verdict]]:
        results = self.executor.results
        while results:
            self.results.append(results.popleft())
        return self.results

    def settled(self, verdict: Verdict) -> list[str]:
        return [m.message_id for batch, v in self.drain() if v is verdict for m in batch]

    def wait_until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {WAIT_S}s; results: {self.drain()}")
            time.sleep(0.001)
            self.drain()

    def finished(self, count: int) -> None:
        final = (Verdict.DONE, Verdict.DEAD_LETTER, Verdict.DUPLICATE)
        self.wait_until(lambda: sum(len(b) for b, v in self.drain() if v in final) >= count)

    def stop(self) -> None:
        self.executor.stop(WAIT_S)


@pytest.fixture
def runs():
    started: list[Run] = []

    def start(*args: Any, **kwargs: Any) -> Run:
        run = Run(*args, **kwargs)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()


def worker_threads(executor: Executor) -> list[threading.Thread]:
    if isinstance(executor, ThreadExecutor):
        return list(executor._threads)
    return [executor._thread]  # type: ignore[attr-defined]


def cpu_s(threads: list[threading.Thread]) -> float:
    return sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident))  # type: ignore[arg-type]
               for t in threads if t.is_alive())


class FixedBackoff:
    """A backoff without jitter, so a test knows how long a retry waits."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def next_delay_s(self, attempt: int, elapsed_s: float) -> float:
        return self.seconds

    def delay_s(self, attempt: int) -> float:
        return self.seconds


@pytest.mark.parametrize("kind", KINDS)
def test_every_message_is_handled_once_and_reported_in_chunks(kind, runs):
    handled: list[str] = []
    run = runs(kind, handler(kind, lambda m: handled.append(m.message_id)))
    messages = keyed("abcdefghij", 30)
    run.executor.submit(messages[:150])
    run.executor.submit(messages[150:])
    run.finished(len(messages))
    done = run.settled(Verdict.DONE)
    assert sorted(done) == sorted(m.message_id for m in messages)
    assert sorted(handled) == sorted(done)
    assert all(isinstance(batch, list) and batch for batch, _ in run.results)
    for key in "abcdefghij":
        offsets = [int(i.split("-")[1]) for i in handled if i.startswith(key)]
        assert offsets == sorted(offsets), f"key {key} ran out of order"


def test_a_message_left_to_a_worker_stuck_in_a_slow_call_goes_to_an_idle_one(runs):
    release = threading.Event()
    handled: list[str] = []

    def handle(message: Any) -> None:
        if message.key == "slow":
            assert release.wait(3 * WAIT_S)
        handled.append(message.message_id)

    run = runs("thread", handle, concurrency=2)
    run.executor.submit([msg("fast", 0)])          # the handler is timed fast first
    run.finished(1)
    run.executor.submit([msg("slow", 1)])
    run.wait_until(lambda: run.executor.running == 1)
    run.executor.submit([msg("fast", 2)])          # left to the worker that just took one
    time.sleep(2 * TAKING_FRESH_S)
    run.executor.nudge()                           # the poll loop's next turn
    run.wait_until(lambda: "fast-2" in handled)
    assert "slow-1" not in handled
    release.set()
    run.finished(3)


@pytest.mark.parametrize("kind", KINDS)
def test_two_messages_of_one_key_never_run_at_once_while_other_keys_do(kind, runs):
    lock = threading.Lock()
    running: list[str] = []
    overlaps: list[tuple[str, list[str]]] = []
    most_keys_at_once = [0]

    def enter(message: Any) -> None:
        with lock:
            if message.key in running:
                overlaps.append((message.message_id, list(running)))
            running.append(message.key)
            most_keys_at_once[0] = max(most_keys_at_once[0], len(running))

    body = handler(kind, enter, pause_s=0.003)

    def leave(message: Any) -> None:
        with lock:
            running.remove(message.key)

    if kind == "thread":
        def func(message: Any) -> None:
            try:
                body(message)
            finally:
                leave(message)
    else:
        async def func(message: Any) -> None:
            try:
                await body(message)
            finally:
                leave(message)

    run = runs(kind, func, concurrency=4)
    messages = keyed("abcd", 6)
    run.executor.submit(messages)
    run.finished(len(messages))
    assert overlaps == []
    assert most_keys_at_once[0] > 1, "keys are meant to run side by side"


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_message_is_retried_then_dead_lettered_and_its_key_waits(kind, runs):
    calls: list[tuple[str, int]] = []

    def body(message: Any) -> None:
        calls.append((message.message_id, message.attempt))
        if message.message_id == "a-0":
            raise KeyError("customer")

    run = runs(kind, handler(kind, body), max_attempts=3)
    poison, behind = msg("a", 0), msg("a", 1)
    others = [msg("b", 2), msg("c", 3)]
    run.executor.submit([poison, *others, behind])
    run.finished(4)
    assert [c for c in calls if c[0] == "a-0"] == [("a-0", 1), ("a-0", 2), ("a-0", 3)]
    verdicts = [v for batch, v in run.results for m in batch if m is poison]
    assert verdicts == [Verdict.RETRY, Verdict.RETRY, Verdict.DEAD_LETTER]
    assert poison.attempt == 3 and poison.failure.category == "handler"
    assert isinstance(poison.failure.error, KeyError)
    assert calls.index(("a-1", 1)) > calls.index(("a-0", 3)), "a key keeps its order"
    assert sorted(run.settled(Verdict.DONE)) == ["a-1", "b-2", "c-3"]


@pytest.mark.parametrize("kind", KINDS)
def test_other_keys_go_on_while_a_key_retries(kind, runs):
    others_done = threading.Event()
    others = [msg("b", 1), msg("c", 2), msg("b", 3)]

    def body(message: Any) -> None:
        if message.message_id == "a-0" and not others_done.is_set():
            raise TransientError("payments API down")

    run = runs(kind, handler(kind, body))
    run.executor.submit([msg("a", 0), *others])
    run.wait_until(lambda: len(run.settled(Verdict.DONE)) == 3)
    assert sorted(run.settled(Verdict.DONE)) == ["b-1", "b-3", "c-2"]
    others_done.set()
    run.finished(4)
    retried = [m for batch, v in run.results if v is Verdict.RETRY for m in batch]
    assert retried and all(m.message_id == "a-0" for m in retried)
    assert "a-0" in run.settled(Verdict.DONE)
    assert retried[0].attempt == 1 + len(retried)


@pytest.mark.parametrize("kind", KINDS)
def test_an_open_breaker_gates_dispatch_without_charging_an_attempt(kind, runs):
    calls: list[tuple[str, int]] = []

    def body(message: Any) -> None:
        calls.append((message.message_id, message.attempt))
        if len(calls) == 1:
            raise BreakerOpenError("payments", 0.3)

    run = runs(kind, handler(kind, body))
    first = msg("a", 0)
    run.executor.submit([first])
    run.wait_until(run.executor.gated)
    run.executor.submit([msg("b", 1)])
    time.sleep(0.05)
    assert calls == [("a-0", 1)], "nothing is dispatched while the breaker is open"
    run.finished(2)
    assert calls[1:] == [("a-0", 1), ("b-1", 1)] or calls[1:] == [("b-1", 1), ("a-0", 1)]
    assert first.failure is None and run.settled(Verdict.RETRY) == []
    assert not run.executor.gated()


@pytest.mark.parametrize("kind", KINDS)
def test_drop_returns_queued_and_waiting_messages_and_stop_returns(kind, runs):
    def body(message: Any) -> None:
        raise BreakerOpenError("payments", 30.0)

    run = runs(kind, handler(kind, body))
    waiting = msg("a", 0)
    run.executor.submit([waiting])
    run.wait_until(run.executor.gated)
    queued = [msg("b", 1), msg("c", 2), msg("b", 3)]
    run.executor.submit(queued)
    run.wait_until(lambda: len(run.executor.queued()) == 4)
    assert run.executor.busy() == 4
    dropped = run.executor.drop(lambda m: m.key != "b")
    assert sorted(m.message_id for m in dropped) == ["b-1", "b-3"]
    dropped = run.executor.drop(lambda m: False)
    assert sorted(m.message_id for m in dropped) == ["a-0", "c-2"]
    assert run.executor.queued() == [] and run.executor.busy() == 0
    run.stop()
    assert not any(thread.is_alive() for thread in worker_threads(run.executor))


@pytest.mark.parametrize("kind", KINDS)
def test_chunks_grow_for_fast_handlers_and_shrink_to_one_for_slow_ones(kind, runs):
    slow = threading.Event()

    def body(message: Any) -> None:
        if slow.is_set():
            time.sleep(0.003)

    run = runs(kind, handler(kind, body), concurrency=2)
    assert run.executor.chunk_size() == 1, "one at a time until the pace is known"
    run.executor.submit(keyed("abcdefghijklmnopqrstuvwxyz", 200))
    run.finished(5200)
    assert run.executor.chunk_size() > 16
    assert max(len(batch) for batch, _ in run.results) > 1
    slow.set()
    run.executor.submit([msg(f"s{i}", i) for i in range(40)])
    run.finished(5240)
    assert run.executor.chunk_size() == 1


def test_a_fast_handler_held_up_now_and_then_keeps_its_big_chunks(runs):
    """A sync handler waits for the GIL inside a call now and then: a few long calls among
    many fast ones must not shrink the chunks (each chunk costs a wake-up)."""
    calls = itertools.count()

    def body(message: Any) -> None:
        if next(calls) % 20 == 0:
            time.sleep(0.003)

    run = runs("thread", handler("thread", body), concurrency=2)
    run.executor.submit(keyed("abcdefghijklmnopqrstuvwxyz", 200))
    run.finished(5200)
    assert run.executor.chunk_size() > 16
    # the calls average 150 µs; the last chunks, short and without a slow call, pull the
    # moving mean down a little (to 97 µs once in 15 runs), a mean without them is ~2 µs
    assert run.executor.call_s > 0.00003, "the mean, for how long queued work takes, keeps them"


def test_a_fast_handler_wakes_a_worker_per_chunk_budget_of_work_not_per_chunk(monkeypatch):
    """2,000 ready calls of 1 µs are 8 chunks (MAX_CHUNK caps them) but 2 ms of work: the
    worker holding the GIL gets through it before 6 more it woke get going. A slow handler's
    ready messages still wake a worker each, up to all of them."""
    policy = OutcomePolicy(max_attempts=1, backoff=BackoffPolicy())
    executor = ThreadExecutor(lambda message: None, Dispatcher("unordered"), policy, 16)
    woken: list[int] = []
    monkeypatch.setattr(executor._cond, "notify", woken.append)
    executor._dispatcher.add([msg(str(i), i) for i in range(2000)])
    for pace_s, expected in ((1e-6, 2), (2e-5, 40), (0.05, 2000)):
        executor._pace_s = pace_s
        executor._wake(None)
        assert woken.pop() == expected, f"at a pace of {pace_s} s"


@pytest.mark.parametrize("kind", KINDS)
def test_messages_that_waited_long_are_screened_again_and_duplicates_skip_the_handler(
        kind, runs):
    handled: list[str] = []
    screened: list[list[str]] = []

    def prestart(messages: list[Any]) -> list[bool]:
        screened.append([m.message_id for m in messages])
        return [m.message_id == "a-0" for m in messages]

    run = runs(kind, handler(kind, lambda m: handled.append(m.message_id)), prestart=prestart)
    stale = [msg("a", 0, screened_at=0.0), msg("a", 1, screened_at=0.0)]
    fresh = msg("b", 2)
    run.executor.submit([*stale, fresh])
    run.finished(3)
    assert run.settled(Verdict.DUPLICATE) == ["a-0"]
    assert sorted(handled) == ["a-1", "b-2"], "the duplicate's lane goes on"
    assert "b-2" not in {i for batch in screened for i in batch}, "fresh ones are not asked"


@pytest.mark.parametrize("kind", KINDS)
def test_redis_down_at_the_second_screen_puts_the_chunk_back_and_waits(kind, runs,
                                                                       monkeypatch):
    monkeypatch.setattr(executor_module, "PRESTART_RETRY_S", 0.02)
    handled: list[str] = []
    answers = iter([RedisUnavailable("down")])

    def prestart(messages: list[Any]) -> list[bool]:
        failure = next(answers, None)
        if failure is not None:
            raise failure
        return [False] * len(messages)

    run = runs(kind, handler(kind, lambda m: handled.append(m.message_id)), prestart=prestart)
    run.executor.submit([msg("a", 0, screened_at=0.0)])
    run.finished(1)
    assert handled == ["a-0"] and run.settled(Verdict.DONE) == ["a-0"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("failure", [BreakerOpenError("payments", 0.3), TransientError("down")])
def test_workers_idle_while_dispatch_is_gated_or_a_retry_is_not_due(kind, failure, runs):
    failed = threading.Event()

    def body(message: Any) -> None:
        if message.message_id == "a-0" and not failed.is_set():
            failed.set()
            raise failure

    run = runs(kind, handler(kind, body), backoff=FixedBackoff(0.3))
    run.executor.submit([msg("a", 0)])
    failed.wait(WAIT_S)
    run.executor.submit([msg("b", 1)])     # held back by the gate, if a breaker set one
    threads = worker_threads(run.executor)
    cpu_before, started = cpu_s(threads), time.monotonic()
    run.finished(2)
    waited_s, burnt_s = time.monotonic() - started, cpu_s(threads) - cpu_before
    assert burnt_s < waited_s / 3, f"{burnt_s:.2f}s of CPU in {waited_s:.2f}s of waiting"



def test_a_retry_decided_while_a_drop_runs_is_neither_lost_nor_doubled(runs):
    release = threading.Event()
    backoff = FixedBackoff(30.0)

    def body(message: Any) -> None:
        if message.message_id == "b-1":
            release.wait(WAIT_S)
        raise TransientError("down")

    run = runs("thread", handler("thread", body), backoff=backoff)
    run.executor.submit([msg("a", 0)])
    run.wait_until(lambda: run.settled(Verdict.RETRY) == ["a-0"])   # waits 30 s to retry
    backoff.seconds = 10.0                                     # b-1 will be due before it
    run.executor.submit([msg("b", 1)])
    run.wait_until(lambda: run.executor.running == 1)          # b-1 is in its handler
    looked_at: list[str] = []

    def keep(message: Any) -> bool:
        looked_at.append(message.message_id)
        if len(looked_at) == 2:     # b-1 fails while the drop goes over the waiting retries
            release.set()
            time.sleep(0.05)
        return True

    assert run.executor.drop(keep) == []
    run.wait_until(lambda: run.executor.running == 0)
    assert sorted(m.message_id for m in run.executor.queued()) == ["a-0", "b-1"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metrics_on", [True, False], ids=["metrics-on", "metrics-off"])
def test_handler_durations_are_kept_only_while_metrics_take_them(kind, metrics_on, runs):
    run = runs(kind, handler(kind, lambda m: None))
    gathered = run.executor.durations   # the list the already started workers were given
    assert gathered is not None
    if not metrics_on:
        run.executor.durations = None   # what the observer does when metrics are off
    messages = keyed("abcd", 50)
    run.executor.submit(messages)
    run.finished(len(messages))
    if metrics_on:
        assert len(gathered) == len(messages)
        assert all(seconds >= 0 for seconds in gathered)
    else:
        assert gathered == [] and run.executor.durations is None
