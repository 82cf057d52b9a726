"""Circuit breakers for the dependencies a handler calls. A handler writes::

    with consumer.breaker("payments"):          # or: async with, or @consumer.breaker("payments")
        payments.charge(order)

While the breaker is open the block does not run and ``BreakerOpenError`` (a transient error
that charges no attempt) is raised instead. Breakers live in one process-wide registry,
``BREAKERS``, which the runtime asks whether to stop dispatching and which feeds the
``consumer_circuit_breaker_state`` gauge.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .breaker_config import BreakerConfig
from .circuit import BreakerState, CircuitBreaker
from .errors import ConfigError

__all__ = ["BREAKERS", "BreakerConfig", "BreakerRegistry", "BreakerState", "CircuitBreaker",
           "Listener", "breaker"]

log = logging.getLogger(__name__)

Listener = Callable[[str, BreakerState, BreakerState], None]


class BreakerRegistry:
    """The named breakers of a process. Settings of a breaker: the defaults, then the keywords
    the code passes when it first names it, then its ``[breakers.<name>]`` table, which lets an
    operator retune a breaker without a code change."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._code_settings: dict[str, dict[str, Any]] = {}
        self._tables: dict[str, dict[str, Any]] = {}
        self._open: dict[str, CircuitBreaker] = {}
        self._listeners: tuple[Listener, ...] = ()

    def __call__(self, name: str, **settings: Any) -> CircuitBreaker:
        found = self._breakers.get(name)
        if found is not None and not settings:
            return found
        return self._create_or_check(name, settings)

    def configure(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        """Applies the ``[breakers]`` TOML table (``{name: {setting: value}}``); breakers that
        already exist and whose settings change restart closed."""
        for name, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"[breakers.{name}] must be a table")
            BreakerConfig().with_settings(table, f"[breakers.{name}]")
        with self._lock:
            self._tables = {name: dict(table) for name, table in tables.items()}
            changes = [(b, self._config(name, self._code_settings[name]))
                       for name, b in self._breakers.items()]
        for existing, config in changes:
            if config != existing.config:
                existing.reconfigure(config)

    def states(self) -> dict[str, BreakerState]:
        with self._lock:
            breakers = list(self._breakers.items())
        return {name: b.state for name, b in breakers}

    def open_until(self) -> float | None:
        """None when no breaker is open; else the earliest clock time at which an open
        breaker lets probe calls through. Cheap when nothing is open (the common case)."""
        if not self._open:
            return None
        with self._lock:
            candidates = list(self._open.values())
        times = [t for t in (b.probe_at for b in candidates) if t is not None]
        return min(times) if times else None

    def add_listener(self, listener: Listener) -> None:
        """``listener(name, old, new)`` runs on every state change, in order, on the thread
        that caused it and under that breaker's lock: keep it quick (set a gauge, log)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def _create_or_check(self, name: str, settings: dict[str, Any]) -> CircuitBreaker:
        with self._lock:
            found = self._breakers.get(name)
            if found is None:
                found = CircuitBreaker(name, self._config(name, settings), clock=self._clock,
                                       on_transition=self._transitioned)
                self._breakers[name] = found
                self._code_settings[name] = settings
                return found
            previous = self._code_settings[name]
            if settings == previous:
                return found
            if previous:
                raise ConfigError(f"breaker {name!r} is already set up with {previous}; "
                                  f"cannot set it up again with {settings}")
            self._code_settings[name] = settings
            config = self._config(name, settings)
        found.reconfigure(config)
        return found

    def _config(self, name: str, settings: Mapping[str, Any]) -> BreakerConfig:
        config = BreakerConfig().with_settings(settings, f"breaker({name!r})")
        table = self._tables.get(name)
        return config.with_settings(table, f"[breakers.{name}]") if table else config

    def _transitioned(self, breaker: CircuitBreaker, old: BreakerState,
                      new: BreakerState) -> None:
        with self._lock:
            if new is BreakerState.OPEN:
                self._open[breaker.name] = breaker
            else:
                self._open.pop(breaker.name, None)
            listeners = self._listeners
        for listener in listeners:
            try:
                listener(breaker.name, old, new)
            except Exception:
                log.exception("circuit breaker listener %r failed", listener)


BREAKERS = BreakerRegistry()


def breaker(name: str, **settings: Any) -> CircuitBreaker:
    """The process-wide breaker ``name``, created on first use. ``settings`` are those of
    ``BreakerConfig`` (``failure_rate=0.5, window=20, min_calls=10, open_s=30`` …)."""
    return BREAKERS(name, **settings)
