"""The circuit breaker in front of Redis, shared by its users in one process (dedup, attempt
counts). Consecutive failures open it; while open, calls fail fast with ``RedisCircuitOpen``
without touching the network; once the delay is over the next call is the probe (half-open):
success closes the breaker, failure opens it again for twice the delay (capped).

The runtime polls ``available()`` and ``retry_in_s()`` while it pauses consumption, and maps
``state`` onto ``consumer_circuit_breaker_state`` through ``constants.BREAKER_STATE_VALUES``.

Every Redis failure becomes ``RedisUnavailable``: the caller never sees redis-py's exceptions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis

from .errors import ConfigError, RedisCircuitOpen, RedisUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

REDIS_FAILURES = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)

CLOSED = "closed"
HALF_OPEN = "half-open"
OPEN = "open"


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 3
    open_s: float = 1.0
    max_open_s: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ConfigError("the Redis breaker's failure threshold must be at least 1")
        if not 0 < self.open_s <= self.max_open_s:
            raise ConfigError("the Redis breaker needs 0 < open_s <= max_open_s")


class RedisBreaker:
    """Thread-safe: handler threads and the poll thread may share one."""

    def __init__(self, name: str = "redis", settings: BreakerSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._settings = settings or BreakerSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_for_s = self._settings.open_s
        self._probe_at: float | None = None  # None: closed

    def call(self, operation: Callable[[], T]) -> T:
        """Runs ``operation`` unless the breaker is open; Redis errors become
        ``RedisUnavailable`` (``RedisCircuitOpen`` when refused without trying)."""
        with self._lock:
            if self._probe_at is not None:
                now = self._clock()
                if now < self._probe_at:
                    raise RedisCircuitOpen(self.name, self._probe_at - now)
                # This call is the probe: other threads keep failing fast until it settles.
                self._probe_at = now + self._open_for_s
        try:
            result = operation()
        except RedisUnavailable as exc:     # raised by our own code, e.g. connect()
            self._failed(exc)
            raise
        except REDIS_FAILURES as exc:
            self._failed(exc)
            raise RedisUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        self._succeeded()
        return result

    def available(self) -> bool:
        """True when a call would reach Redis: closed, or open with its probe due."""
        return self.retry_in_s() == 0.0

    def retry_in_s(self) -> float:
        with self._lock:
            if self._probe_at is None:
                return 0.0
            return max(0.0, self._probe_at - self._clock())

    @property
    def state(self) -> str:
        """``closed``, ``half-open`` (open, probe due) or ``open``."""
        with self._lock:
            if self._probe_at is None:
                return CLOSED
            return HALF_OPEN if self._clock() >= self._probe_at else OPEN

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failures += 1
            was_open = self._probe_at is not None
            if was_open:
                self._open_for_s = min(self._open_for_s * 2, self._settings.max_open_s)
            elif self._failures < self._settings.failure_threshold:
                return
            self._probe_at = self._clock() + self._open_for_s
            delay = self._open_for_s
        log.warning("%s: circuit open for %.1fs after %s", self.name, delay, exc)

    def _succeeded(self) -> None:
        with self._lock:
            recovered = self._probe_at is not None
            self._failures = 0
            self._open_for_s = self._settings.open_s
            self._probe_at = None
        if recovered:
            log.info("%s: Redis answers again, circuit closed", self.name)
