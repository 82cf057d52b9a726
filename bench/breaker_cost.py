"""What a circuit breaker costs a handler call, against the same call unguarded, measured in
one run: ``with breaker:`` on a held breaker, ``with consumer.breaker("name"):`` (a registry
lookup per call), the decorator (sync and async), and the runtime's per-loop
``BREAKERS.open_until()`` check. Also the cost of one backoff delay.

    .venv/bin/python bench/breaker_cost.py
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from consumer import breaker
from consumer.breaker import BREAKERS
from consumer.retry import BackoffPolicy

CALLS = 200_000
ROUNDS = 5


def work(x: int) -> int:
    return x + 1


def best_ns(loop: Callable[[int], None]) -> float:
    """The best of ROUNDS runs of CALLS calls, in ns per call (the least disturbed by the
    other processes on a shared machine)."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        loop(CALLS)
        best = min(best, (time.perf_counter_ns() - start) / CALLS)
    return best


def bare(n: int) -> None:
    for i in range(n):
        work(i)


held = breaker("bench-held", window=100, min_calls=100)


def with_held(n: int) -> None:
    for i in range(n):
        with held:
            work(i)


def with_lookup(n: int) -> None:
    for i in range(n):
        with breaker("bench-held"):
            work(i)


guarded = breaker("bench-decorated")(work)


def decorated(n: int) -> None:
    for i in range(n):
        guarded(i)


async def async_work(x: int) -> int:
    return x + 1


async_guarded = breaker("bench-async")(async_work)


def async_bare(n: int) -> None:
    async def run() -> None:
        for i in range(n):
            await async_work(i)
    asyncio.run(run())


def async_decorated(n: int) -> None:
    async def run() -> None:
        for i in range(n):
            await async_guarded(i)
    asyncio.run(run())


def open_until(n: int) -> None:
    for _ in range(n):
        BREAKERS.open_until()


policy = BackoffPolicy()


def backoff(n: int) -> None:
    for i in range(n):
        policy.next_delay_s(i % 40 + 1, 1.0)


def main() -> None:
    base = best_ns(bare)
    async_base = best_ns(async_bare)
    print(f"{CALLS:,} calls, best of {ROUNDS} rounds; a 16 µs Avro message is 16,000 ns")
    print(f"  bare call                         {base:8.0f} ns")
    for name, loop in (("with held breaker", with_held),
                       ('with breaker("name") per call', with_lookup),
                       ("@breaker sync", decorated)):
        cost = best_ns(loop)
        print(f"  {name:<33} {cost:8.0f} ns  ratio {cost / base:5.1f}  "
              f"overhead {cost - base:6.0f} ns")
    cost = best_ns(async_decorated)
    print(f"  bare await                        {async_base:8.0f} ns")
    print(f"  @breaker async                    {cost:8.0f} ns  ratio {cost / async_base:5.1f}  "
          f"overhead {cost - async_base:6.0f} ns")
    print(f"  BREAKERS.open_until(), none open  {best_ns(open_until):8.0f} ns")
    print(f"  BackoffPolicy.next_delay_s        {best_ns(backoff):8.0f} ns")


if __name__ == "__main__":
    main()
