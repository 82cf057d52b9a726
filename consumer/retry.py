"""How long to wait before retrying a failed message: exponential backoff with full jitter
(AWS Architecture Blog, "Exponential Backoff And Jitter"), capped, and for transient failures an
optional limit on the total time spent retrying instead of a limit on attempts."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """After failed attempt ``n`` (1-based) the delay is uniform in
    ``[0, min(max_backoff_ms, initial_backoff_ms * multiplier ** (n - 1)))``. Full jitter
    spreads the retries of many messages failing together (a dependency that went down)
    instead of sending them back in synchronized waves.

    ``max_elapsed_s`` (None = retry forever) bounds the time since the first failure: once
    reached, ``next_delay_s`` answers None and the caller gives up (dead-letters).
    """

    initial_backoff_ms: float = 200.0
    max_backoff_ms: float = 30_000.0
    multiplier: float = 2.0
    max_elapsed_s: float | None = None

    def __post_init__(self) -> None:
        if not self.initial_backoff_ms > 0:
            raise ConfigError(f"initial_backoff_ms must be more than 0, "
                              f"got {self.initial_backoff_ms!r}")
        if not self.max_backoff_ms >= self.initial_backoff_ms:
            raise ConfigError(f"max_backoff_ms ({self.max_backoff_ms!r}) must be at least "
                              f"initial_backoff_ms ({self.initial_backoff_ms!r})")
        if not self.multiplier >= 1:
            raise ConfigError(f"multiplier must be at least 1, got {self.multiplier!r}")
        if self.max_elapsed_s is not None and not self.max_elapsed_s > 0:
            raise ConfigError(f"max_elapsed_s must be more than 0, got {self.max_elapsed_s!r}")

    def ceiling_ms(self, attempt: int) -> float:
        """The largest delay that may follow failed attempt ``attempt``."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        growth = (attempt - 1) * math.log(self.multiplier)
        # Compared as logarithms: multiplier ** attempt overflows a float long before an
        # endless transient retry runs out of attempts.
        if growth >= math.log(self.max_backoff_ms / self.initial_backoff_ms):
            return self.max_backoff_ms
        return self.initial_backoff_ms * math.exp(growth)

    def delay_ms(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """A jittered delay after failed attempt ``attempt``; ``rand`` returns [0, 1)."""
        return rand() * self.ceiling_ms(attempt)

    def delay_s(self, attempt: int) -> float:
        return self.delay_ms(attempt) / 1000.0

    def next_delay_s(self, attempt: int, elapsed_s: float,
                     rand: Callable[[], float] = random.random) -> float | None:
        """The wait before the next try, ``elapsed_s`` after the first failure; None once
        ``max_elapsed_s`` is spent. The last wait is cut short so that a final try happens at
        the limit rather than after it."""
        delay_s = self.delay_ms(attempt, rand) / 1000.0
        if self.max_elapsed_s is None:
            return delay_s
        remaining_s = self.max_elapsed_s - elapsed_s
        if remaining_s <= 0:
            return None
        return min(delay_s, remaining_s)
