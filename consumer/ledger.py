"""What survives a crash, in Redis: per partition, the attempts charged to failing offsets (a
hash) and the offsets handed to handlers and not yet settled (a set, written before they start).
A process that dies leaves exactly its in-flight offsets in that set: the suspects of the crash.
Writes happen per batch of starts and per batch of settlements; one pipeline per assignment
reads a partition back, so no per-message read is ever needed.

Keys are ``consumer:{<group>}:attempts:<topic>:<partition>`` and ``...:running:...``: the
group's hash tag keeps them in the slot of its other keys on a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .constants import REDIS_ATTEMPTS_KIND, REDIS_PREFIX
from .redis_breaker import RedisBreaker

TTL_MS = 7 * 86_400_000   # a partition untouched for a week forgets its counts


class AttemptLedger:
    def __init__(self, client: Any, group: str, topic: str, breaker: RedisBreaker) -> None:
        self._client = client
        self._prefix = f"{REDIS_PREFIX}:{{{group}}}:{REDIS_ATTEMPTS_KIND}:{topic}:"
        self.breaker = breaker

    def _counts(self, partition: int) -> str:
        return f"{self._prefix}{partition}"

    def _running(self, partition: int) -> str:
        return f"{self._prefix}running:{partition}"

    def load(self, partition: int) -> tuple[dict[int, int], set[int]]:
        """(attempts by offset, offsets that were running) of a partition."""
        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.hgetall(self._counts(partition))
            pipe.smembers(self._running(partition))
            return list(pipe.execute())

        counts, running = self.breaker.call(run)
        return ({int(k): int(v) for k, v in counts.items()}, {int(o) for o in running})

    def starting(self, offsets: Mapping[int, Iterable[int]]) -> None:
        """Records, before they start, the offsets about to be handed to handlers."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for partition, started in offsets.items():
                pipe.sadd(self._running(partition), *started)
                pipe.pexpire(self._running(partition), TTL_MS)
            pipe.execute()

        self.breaker.call(run)

    def settled(self, offsets: Mapping[int, Iterable[int]],
                counted: Mapping[int, Iterable[int]]) -> None:
        """Forgets settled offsets: ``offsets`` leave the running set, and those ``counted``
        (they had attempts charged) their counts too."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for partition, done in offsets.items():
                pipe.srem(self._running(partition), *done)
            for partition, done in counted.items():
                pipe.hdel(self._counts(partition), *[str(o) for o in done])
            pipe.execute()

        self.breaker.call(run)

    def charge(self, partition: int, offset: int) -> int:
        """One more attempt for the message; returns its attempts so far."""
        def run() -> int:
            pipe = self._client.pipeline(transaction=False)
            pipe.hincrby(self._counts(partition), str(offset), 1)
            pipe.pexpire(self._counts(partition), TTL_MS)
            return int(pipe.execute()[0])

        return self.breaker.call(run)

    def release(self, partition: int) -> None:
        """The partition was let go cleanly (drained, committed): nothing is in doubt."""
        self.breaker.call(lambda: self._client.delete(self._running(partition)))
