"""Attempt counts that survive restarts and rebalances, in Redis: per partition one hash
holding the attempts charged to each failing offset, and ``mark``, the highest offset handed to
handlers. Only failures and batches of dispatch write here; one HGETALL per assignment reads a
partition back, so no per-message read is ever needed.

Keys are ``consumer:{<group>}:attempts:<topic>:<partition>``: the group's hash tag keeps them
in the slot of its other keys on a Redis Cluster, and every command touches one key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .constants import REDIS_ATTEMPTS_KIND, REDIS_PREFIX
from .redis_breaker import RedisBreaker

MARK = "mark"
TTL_MS = 7 * 86_400_000   # a partition untouched for a week forgets its counts


class AttemptLedger:
    def __init__(self, client: Any, group: str, topic: str, breaker: RedisBreaker) -> None:
        self._client = client
        self._prefix = f"{REDIS_PREFIX}:{{{group}}}:{REDIS_ATTEMPTS_KIND}:{topic}:"
        self.breaker = breaker

    def _key(self, partition: int) -> str:
        return f"{self._prefix}{partition}"

    def load(self, partition: int) -> tuple[dict[int, int], int | None]:
        """(attempts by offset, mark) of a partition."""
        raw = self.breaker.call(lambda: self._client.hgetall(self._key(partition)))
        counts: dict[int, int] = {}
        mark = None
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            if name == MARK:
                mark = int(value)
            else:
                counts[int(name)] = int(value)
        return counts, mark

    def mark(self, highest: Mapping[int, int]) -> None:
        """Records, before they run, the highest offsets about to be handed to handlers."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for partition, offset in highest.items():
                pipe.hset(self._key(partition), MARK, offset)
                pipe.pexpire(self._key(partition), TTL_MS)
            pipe.execute()

        self.breaker.call(run)

    def charge(self, partition: int, offset: int) -> int:
        """One more attempt for the message; returns its attempts so far."""
        def run() -> int:
            pipe = self._client.pipeline(transaction=False)
            pipe.hincrby(self._key(partition), str(offset), 1)
            pipe.pexpire(self._key(partition), TTL_MS)
            return int(pipe.execute()[0])

        return self.breaker.call(run)

    def clear(self, offsets: Mapping[int, Iterable[int]]) -> None:
        """Forgets the counts of settled messages: partition -> offsets."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for partition, settled in offsets.items():
                pipe.hdel(self._key(partition), *[str(o) for o in settled])
            pipe.execute()

        self.breaker.call(run)

    def release(self, partition: int) -> None:
        """The partition was let go cleanly (drained, committed): nothing is in doubt. The
        mark goes rather than staying at the commit, so offsets reset later (a group reset,
        a recreated topic) are not taken for a crash."""
        self.breaker.call(lambda: self._client.hdel(self._key(partition), MARK))
