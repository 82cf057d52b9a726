"""Settings of one circuit breaker, from code (``breaker("payments", window=20)``) or from the
TOML ``[breakers.<name>]`` table, validated once when the breaker is created."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import BreakerOpenError, ConfigError, PermanentError

ExceptionTypes = tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """resilience4j's count-based breaker. Defaults are resilience4j's.

    ``failure_rate`` and ``slow_call_rate`` are fractions in (0, 1]: the breaker opens once the
    share of failed (or slow) calls among the last ``window`` calls reaches them, provided at
    least ``min_calls`` calls were recorded. It stays open ``open_s``, then lets
    ``half_open_calls`` probe calls through and closes if their failure rate is below the
    threshold. A call counts as a failure when it raises one of ``record`` and none of
    ``ignore``; an ignored exception counts neither way. The defaults ignore ``PermanentError``
    (so data errors too): the dependency answered, the message was bad. They also ignore
    ``BreakerOpenError``, which says another breaker refused the call, not that this one failed.
    """

    failure_rate: float = 0.5
    window: int = 100
    min_calls: int = 100
    open_s: float = 60.0
    half_open_calls: int = 10
    slow_call_s: float | None = None
    slow_call_rate: float = 1.0
    record: ExceptionTypes = (Exception,)
    ignore: ExceptionTypes = (PermanentError, BreakerOpenError)

    def __post_init__(self) -> None:
        for name in ("failure_rate", "slow_call_rate"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                hint = f" (did you mean {value / 100:g}?)" if 1 < value <= 100 else ""
                raise ConfigError(f"{name} is a fraction in (0, 1], got {value!r}{hint}")
        for name in ("window", "min_calls", "half_open_calls"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.min_calls > self.window:
            raise ConfigError(f"min_calls ({self.min_calls}) cannot exceed window "
                              f"({self.window}): the breaker could never open")
        if self.open_s <= 0:
            raise ConfigError(f"open_s must be more than 0, got {self.open_s!r}")
        if self.slow_call_s is not None and self.slow_call_s <= 0:
            raise ConfigError(f"slow_call_s must be more than 0, got {self.slow_call_s!r}")

    def with_settings(self, settings: Mapping[str, Any], where: str) -> BreakerConfig:
        """A copy with ``settings`` (code keywords or a TOML table) applied on top; ``where``
        names their origin in error messages."""
        try:
            return replace(self, **{key: _coerce(key, value) for key, value in settings.items()})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


_KINDS: dict[str, type] = {"failure_rate": float, "slow_call_rate": float, "open_s": float,
                           "slow_call_s": float, "window": int, "min_calls": int,
                           "half_open_calls": int, "record": tuple, "ignore": tuple}


def _coerce(key: str, value: Any) -> Any:
    kind = _KINDS.get(key)
    if kind is None:
        raise ConfigError(f"unknown setting {key!r} (known: {', '.join(_KINDS)})")
    if kind is tuple:
        return _exception_types(key, value)
    if key == "slow_call_s" and value is None:
        return None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (kind is int and not float(value).is_integer()):
        raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}, "
                          f"got {value!r}")
    return kind(value)


def _exception_types(key: str, value: Any) -> ExceptionTypes:
    """Classes, or their dotted names (``package.module.Class`` or ``package.module:Class``)
    as a TOML file gives them."""
    items = [value] if isinstance(value, str | type) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{key} must be a list of exception classes, got {value!r}")
    return tuple(_exception_type(key, item) for item in items)


def _exception_type(key: str, item: Any) -> type[BaseException]:
    if isinstance(item, str):
        module_name, sep, attr = item.partition(":")
        if not sep:
            module_name, _, attr = item.rpartition(".")
        module_name = module_name or "builtins"
        try:
            item = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"{key}: cannot import exception class {item!r}") from None
    if not (isinstance(item, type) and issubclass(item, BaseException)):
        raise ConfigError(f"{key}: {item!r} is not an exception class")
    return item
