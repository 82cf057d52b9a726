"""The breaker state machine, driven by an injected clock."""

from __future__ import annotations

import asyncio
import threading

import pytest

from consumer.breaker_config import BreakerConfig
from consumer.circuit import BreakerState, CircuitBreaker
from consumer.constants import BREAKER_STATE_VALUES
from consumer.errors import BreakerOpenError, DecodeError, PermanentError, TransientError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **settings) -> tuple[CircuitBreaker, list[tuple[BreakerState, ...]]]:
    seen: list[tuple[BreakerState, ...]] = []
    config = BreakerConfig().with_settings(
        {"window": 10, "min_calls": 4, "open_s": 30, "half_open_calls": 2, **settings}, "test")
    cb = CircuitBreaker("payments", config, clock=clock,
                        on_transition=lambda b, old, new: seen.append((old, new)))
    return cb, seen


def fail(cb: CircuitBreaker, error: BaseException | None = None) -> None:
    cb.record(cb.acquire(), error or TransientError("down"))


def succeed(cb: CircuitBreaker) -> None:
    cb.record(cb.acquire(), None)


def test_stays_closed_below_the_minimum_number_of_calls(clock):
    cb, _ = make(clock)
    for _ in range(3):
        fail(cb)
    assert cb.state is BreakerState.CLOSED


def test_opens_once_the_failure_rate_reaches_the_threshold(clock):
    cb, seen = make(clock, failure_rate=0.5)
    succeed(cb)
    succeed(cb)
    fail(cb)
    assert cb.state is BreakerState.CLOSED
    fail(cb)  # 2 of 4 = 50 %
    assert cb.state is BreakerState.OPEN
    assert seen == [(BreakerState.CLOSED, BreakerState.OPEN)]


def test_a_rate_just_below_the_threshold_keeps_it_closed(clock):
    cb, _ = make(clock, failure_rate=0.3, min_calls=10)
    for _ in range(7):
        succeed(cb)
    for _ in range(2):
        fail(cb)
    succeed(cb)
    assert cb.state is BreakerState.CLOSED  # 2 of 10
    fail(cb)  # window slides: the oldest success leaves, 3 of 10 = 30 %
    assert cb.state is BreakerState.OPEN


def test_old_failures_slide_out_of_the_window(clock):
    cb, _ = make(clock, window=4, min_calls=4, failure_rate=0.75)
    fail(cb)
    fail(cb)
    succeed(cb)
    succeed(cb)
    for _ in range(4):
        succeed(cb)
    fail(cb)
    fail(cb)
    assert cb.state is BreakerState.CLOSED  # the first two failures are gone: 2 of 4


def test_an_open_breaker_refuses_calls_without_running_them(clock):
    cb, _ = make(clock)
    for _ in range(4):
        fail(cb)
    ran = []
    clock.now += 10
    with pytest.raises(BreakerOpenError) as refused, cb:
        ran.append(1)
    assert ran == []
    assert refused.value.breaker == "payments"
    assert refused.value.retry_in_s == pytest.approx(20)
    assert isinstance(refused.value, TransientError)
    assert cb.probe_at == pytest.approx(1030)


def test_half_open_after_open_s_lets_a_limited_number_of_probes_through(clock):
    cb, seen = make(clock, half_open_calls=2)
    for _ in range(4):
        fail(cb)
    clock.now += 30
    assert cb.state is BreakerState.HALF_OPEN
    assert cb.probe_at is None
    first, second = cb.acquire(), cb.acquire()
    with pytest.raises(BreakerOpenError):
        cb.acquire()
    cb.record(first, None)
    cb.record(second, None)
    assert cb.state is BreakerState.CLOSED
    assert seen[-2:] == [(BreakerState.OPEN, BreakerState.HALF_OPEN),
                         (BreakerState.HALF_OPEN, BreakerState.CLOSED)]


def test_failing_probes_open_it_again_for_another_open_s(clock):
    cb, _ = make(clock, half_open_calls=2)
    for _ in range(4):
        fail(cb)
    clock.now += 30
    succeed(cb)
    fail(cb)  # 1 of 2 = 50 %
    assert cb.state is BreakerState.OPEN
    assert cb.probe_at == pytest.approx(clock.now + 30)


def test_a_closed_breaker_starts_from_an_empty_window(clock):
    cb, _ = make(clock, half_open_calls=1)
    for _ in range(4):
        fail(cb)
    clock.now += 30
    succeed(cb)
    assert cb.state is BreakerState.CLOSED
    for _ in range(3):
        fail(cb)
    assert cb.state is BreakerState.CLOSED  # 3 calls < min_calls 4


def test_permanent_and_data_errors_count_neither_way(clock):
    cb, _ = make(clock)
    for _ in range(10):
        fail(cb, PermanentError("bad order"))
        fail(cb, DecodeError("bad bytes"))
    assert cb.state is BreakerState.CLOSED
    for _ in range(4):
        fail(cb)
    assert cb.state is BreakerState.OPEN  # 4 of 4: the ignored ones were not successes


def test_an_ignored_error_gives_the_probe_permit_back(clock):
    cb, _ = make(clock, half_open_calls=1)
    for _ in range(4):
        fail(cb)
    clock.now += 30
    fail(cb, PermanentError("bad order"))
    assert cb.state is BreakerState.HALF_OPEN
    succeed(cb)  # the permit is free again
    assert cb.state is BreakerState.CLOSED


def test_errors_outside_record_count_as_successes(clock):
    cb, _ = make(clock, record=[TimeoutError])
    for _ in range(10):
        fail(cb, KeyError("x"))
    assert cb.state is BreakerState.CLOSED
    for _ in range(4):
        fail(cb, TimeoutError())
    assert cb.state is BreakerState.CLOSED
    fail(cb, TimeoutError())  # 5 of the last 10
    assert cb.state is BreakerState.OPEN


def test_cancellation_is_not_a_failure(clock):
    cb, _ = make(clock)
    for _ in range(10):
        fail(cb, asyncio.CancelledError())
    assert cb.state is BreakerState.CLOSED


def test_slow_calls_open_it_when_the_slow_rate_is_reached(clock):
    cb, _ = make(clock, slow_call_s=2.0, slow_call_rate=0.5)
    for duration in (0.5, 3.0, 0.1, 2.5):
        permit = cb.acquire()
        clock.now += duration
        cb.record(permit, None)
    assert cb.state is BreakerState.OPEN


def test_slow_calls_are_ignored_without_a_threshold(clock):
    cb, _ = make(clock)
    for _ in range(10):
        permit = cb.acquire()
        clock.now += 100
        cb.record(permit, None)
    assert cb.state is BreakerState.CLOSED


def test_outcomes_of_calls_from_before_a_state_change_are_dropped(clock):
    cb, _ = make(clock, half_open_calls=2)
    straggler = cb.acquire()
    for _ in range(4):
        fail(cb)
    clock.now += 30
    probe = cb.acquire()
    cb.record(straggler, TransientError("late"))  # started while closed: must not count
    cb.record(probe, None)
    assert cb.state is BreakerState.HALF_OPEN
    succeed(cb)
    assert cb.state is BreakerState.CLOSED


def test_context_manager_records_success_and_failure(clock):
    cb, _ = make(clock)
    for _ in range(2):
        with cb:
            pass
    with pytest.raises(TransientError), cb:
        raise TransientError("down")
    assert cb.state is BreakerState.CLOSED  # 3 calls, fewer than min_calls
    with pytest.raises(TransientError), cb:
        raise TransientError("down")
    assert cb.state is BreakerState.OPEN  # 2 of 4


def test_decorator_guards_sync_functions_and_keeps_their_result(clock):
    cb, _ = make(clock)

    @cb
    def charge(amount: int) -> int:
        if amount < 0:
            raise TransientError("gateway down")
        return amount * 2

    assert charge(21) == 42
    assert charge.__name__ == "charge"
    for _ in range(4):
        with pytest.raises(TransientError):
            charge(-1)
    with pytest.raises(BreakerOpenError):
        charge(1)


def test_decorator_and_async_with_guard_coroutines(clock):
    cb, _ = make(clock)

    @cb
    async def charge(amount: int) -> int:
        await asyncio.sleep(0)
        if amount < 0:
            raise TransientError("gateway down")
        return amount

    async def scenario() -> list[str]:
        results = await asyncio.gather(*(charge(-1) for _ in range(4)), return_exceptions=True)
        outcomes = [type(r).__name__ for r in results]
        try:
            async with cb:
                outcomes.append("ran")
        except BreakerOpenError:
            outcomes.append("refused")
        return outcomes

    assert asyncio.run(scenario()) == ["TransientError"] * 4 + ["refused"]


def test_overlapping_async_with_blocks_each_record_their_own_call(clock):
    """Task A enters while closed and leaves, failing, after the breaker went half-open and
    task B entered as the probe: A's outcome is stale and must not decide the probe round."""
    cb, _ = make(clock, half_open_calls=1)

    async def scenario() -> list[BreakerState]:
        a_inside, release_a = asyncio.Event(), asyncio.Event()
        b_inside, release_b = asyncio.Event(), asyncio.Event()

        async def task_a() -> None:
            async with cb:
                a_inside.set()
                await release_a.wait()
                raise TransientError("late failure")

        async def task_b() -> None:
            async with cb:
                b_inside.set()
                await release_b.wait()

        a = asyncio.create_task(task_a())
        await a_inside.wait()
        for _ in range(4):
            fail(cb)
        clock.now += 30
        b = asyncio.create_task(task_b())
        await b_inside.wait()
        release_a.set()
        with pytest.raises(TransientError):
            await a
        after_a = cb.state
        release_b.set()
        await b
        return [after_a, cb.state]

    assert asyncio.run(scenario()) == [BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_threads_share_one_breaker_safely(clock):
    cb, _ = make(clock, window=1000, min_calls=1000, failure_rate=0.5)

    def work(failing: bool) -> None:
        for _ in range(250):
            try:
                with cb:
                    if failing:
                        raise TransientError("down")
            except TransientError:
                pass

    threads = [threading.Thread(target=work, args=(i % 2 == 1,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 1000 calls, exactly 500 failed: the threshold is met on the last call whatever the
    # interleaving, and only if no outcome was lost or counted twice.
    assert cb.state is BreakerState.OPEN


def test_reconfigure_restarts_closed(clock):
    cb, seen = make(clock)
    for _ in range(4):
        fail(cb)
    cb.reconfigure(BreakerConfig(window=5, min_calls=5))
    assert cb.state is BreakerState.CLOSED
    assert seen[-1] == (BreakerState.OPEN, BreakerState.CLOSED)
    assert cb.config.window == 5


def test_states_map_to_the_gauge_values_of_the_contract():
    assert {state.label: int(state) for state in BreakerState} == BREAKER_STATE_VALUES
