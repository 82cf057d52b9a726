"""The executor's last step before handler calls, taken for a batch of ready messages at once:
dedup's screen drops copies that were finished elsewhere while these waited, and the crash
ledger records the batch as running, so that a crash during their calls is attributed to them
(``recovery``). Both go to Redis in one round trip: the record rides on the screen's pipeline,
so it takes in the copies the screen then drops too; those settle at once as duplicates, and a
crash before they do only makes a recovery look at them again (and find them done). The
executor's workers call it too, for messages that waited long since; those are on record
already, so only the screen (thread-safe) runs then."""

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
        nothing may start yet (unless told to keep going without Redis: then nothing is
        dropped or put on record)."""
        start = None
        if self._recovery is not None:
            # Those already on record (looked at again after a long wait) are still there.
            fresh = [m for m in messages if m.batch is None]
            start = self._recovery.plan_start(fresh) if fresh else None
        try:
            if self._duplicates is None:
                if start is not None:
                    start.record()
                return [False] * len(messages)
            seen = self._duplicates.screen(messages, start.queue if start else None)
        except RedisUnavailable:
            if not self._keep_going:
                raise
            return [False] * len(messages)
        if start is not None:
            start.recorded()
        return seen
