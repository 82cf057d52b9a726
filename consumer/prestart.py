"""The executor's last step before handler calls, taken for a batch of ready messages at once:
dedup's screen drops copies that were finished elsewhere while these waited, then the crash
ledger records the rest as running, so that a crash during their calls is attributed to them
(``recovery``). The executor's workers call it too, for messages that waited long since; those
are on record already, so only the screen (thread-safe) runs then."""

from __future__ import annotations

from typing import Any

from .duplicates import DuplicateFilter
from .errors import RedisUnavailable
from .recovery import Recovery


class Prestart:
    def __init__(self, duplicates: DuplicateFilter | None, recovery: Recovery | None,
                 keep_going_without_redis: bool) -> None:
        self._duplicates = duplicates
        self._recovery = recovery
        self._keep_going = keep_going_without_redis

    def __call__(self, messages: list[Any]) -> list[bool]:
        """Per message: True when it is a duplicate to drop. Raises RedisUnavailable: then
        nothing may start yet (unless told to keep going without Redis)."""
        seen = (self._duplicates.screen(messages) if self._duplicates is not None
                else [False] * len(messages))
        if self._recovery is not None:
            # Those already on record (looked at again after a long wait) are still there.
            starting = [m for m, was_seen in zip(messages, seen, strict=True)
                        if not was_seen and m.batch is None]
            if starting:
                try:
                    self._recovery.starting(starting)
                except RedisUnavailable:
                    if not self._keep_going:
                        raise
        return seen
