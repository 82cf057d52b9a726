"""The one place that decides what happens to a message after its handler call (or after a
decode failure): done, retry after a delay, dead-letter, or wait for a breaker. The executor and
the poll loop only carry the decision out."""

from __future__ import annotations

import enum
import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .constants import CATEGORY_DATA, CATEGORY_HANDLER, CATEGORY_TRANSIENT
from .errors import (
    BreakerOpenError,
    ConfigError,
    CrashLoopError,
    PermanentError,
    TransientError,
)
from .retry import BackoffPolicy

DEFAULT_TRANSIENT: tuple[type[BaseException], ...] = (TransientError, TimeoutError,
                                                       ConnectionError)


class Verdict(enum.Enum):
    DONE = "processed"
    DUPLICATE = "duplicate"
    RETRY = "retried"
    DEAD_LETTER = "dead_lettered"
    WAIT = "wait"   # a breaker is open: try again later, charge nothing
    SKIPPED = "skipped"   # outside a backfill's time range: read past, not handled


@dataclass(slots=True)
class Failure:
    """What the dead letter will say about a message's failures."""

    category: str
    error: BaseException
    first_failure_s: float
    last_failure_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay_s: float = 0.0


def resolve_exception(dotted: str) -> type:
    """The exception class ``package.module.Class`` names; ConfigError when there is none."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"[errors] {dotted!r}: no such class ({exc})") from None
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ConfigError(f"[errors] {dotted!r} is not an exception class")
    return found


class OutcomePolicy:
    def __init__(self, *, max_attempts: int, backoff: BackoffPolicy,
                 error_classes: Mapping[str, str] | None = None) -> None:
        self._max_attempts = max_attempts
        self._backoff = backoff
        # Dotted names resolve to their classes once, at start-up, so that a class exported
        # from a package matches whatever module defines it; a bare name matches by name.
        self._by_class: dict[type, str] = {}
        self._by_name: dict[str, str] = {}
        for name, category in (error_classes or {}).items():
            if "." in name:
                self._by_class[resolve_exception(name)] = category
            else:
                self._by_name[name] = category

    def category(self, error: BaseException) -> str:
        """transient, data or handler: the configured mapping first (most specific class
        wins), then the error tree."""
        if self._by_class or self._by_name:
            for cls in type(error).__mro__:
                category = self._by_class.get(cls) or self._by_name.get(cls.__name__)
                if category:
                    return category
        if isinstance(error, PermanentError) and not isinstance(error, CrashLoopError):
            return CATEGORY_DATA
        if isinstance(error, DEFAULT_TRANSIENT):
            return CATEGORY_TRANSIENT
        return CATEGORY_HANDLER

    def decide(self, message: object, error: BaseException | None) -> Decision:
        if error is None:
            return Decision(Verdict.DONE)
        if isinstance(error, BreakerOpenError):
            return Decision(Verdict.WAIT, error.retry_in_s)
        now = time.time()
        failure: Failure | None = message.failure  # type: ignore[attr-defined]
        category = self.category(error)
        if failure is None:
            failure = Failure(category, error, now, now)
            message.failure = failure  # type: ignore[attr-defined]
        else:
            failure.category, failure.error, failure.last_failure_s = category, error, now
        attempt: int = message.attempt  # type: ignore[attr-defined]
        if category == CATEGORY_TRANSIENT:
            delay_s = self._backoff.next_delay_s(attempt, now - failure.first_failure_s)
            if delay_s is not None:
                return Decision(Verdict.RETRY, delay_s)
        elif category == CATEGORY_HANDLER and attempt < self._max_attempts:
            return Decision(Verdict.RETRY, self._backoff.delay_s(attempt))
        return Decision(Verdict.DEAD_LETTER)
