"""Which dead letters a ``consumer dlq`` command acts on: ``--category``, ``--error-class``,
``--since``/``--until`` (on ``dlq.last.failure``, else the letter's own timestamp)."""

from __future__ import annotations

from dataclasses import dataclass

from .dlq import DeadLetterRecord


@dataclass(frozen=True, slots=True)
class LetterFilter:
    category: str | None = None
    error_class: str | None = None   # fully qualified, or just the class name
    since_ms: int | None = None      # inclusive
    until_ms: int | None = None      # exclusive

    def matches(self, letter: DeadLetterRecord) -> bool:
        if self.category is not None and letter.category != self.category:
            return False
        if self.error_class is not None and not letter.error_class_is(self.error_class):
            return False
        if self.since_ms is None and self.until_ms is None:
            return True
        failed_at = letter.failed_at_ms
        if failed_at is None:
            return False
        if self.since_ms is not None and failed_at < self.since_ms:
            return False
        return self.until_ms is None or failed_at < self.until_ms

    @property
    def selects_all(self) -> bool:
        return self == LetterFilter()

    def describe(self) -> str:
        """A stable text of the set conditions, e.g. ``category=data since=1795300000000``."""
        parts = [("category", self.category), ("error-class", self.error_class),
                 ("since", self.since_ms), ("until", self.until_ms)]
        return " ".join(f"{name}={value}" for name, value in parts if value is not None)
