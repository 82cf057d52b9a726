"""What survives a crash, in Redis: per partition, the attempts charged to failing offsets (a
hash) and the batches of offsets handed to handlers and not yet all settled (a set of packed
offset arrays, one member per batch, written before the batch starts). A process that dies
leaves its in-flight batches in that set: the suspects of the crash. Writes happen per batch of
starts and per settled batch; one pipeline per assignment reads a partition back, so no
per-message read or write is ever needed.

Keys are ``consumer:{<group>}:attempts:<topic>:<partition>`` and ``...:running:...``: the
group's hash tag keeps them in the slot of its other keys on a Redis Cluster.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import Any

from .constants import REDIS_ATTEMPTS_KIND, REDIS_PREFIX
from .redis_breaker import RedisBreaker

TTL_MS = 7 * 86_400_000   # a partition untouched for a week forgets its counts


def pack_offsets(offsets: list[int]) -> bytes:
    return array("q", offsets).tobytes()


def unpack_offsets(member: bytes) -> list[int]:
    packed = array("q")
    packed.frombytes(member)
    return packed.tolist()


class AttemptLedger:
    def __init__(self, client: Any, group: str, topic: str, breaker: RedisBreaker) -> None:
        self._client = client
        self._prefix = f"{REDIS_PREFIX}:{{{group}}}:{REDIS_ATTEMPTS_KIND}:{topic}:"
        self.breaker = breaker
        self.roundtrips = 0   # for consumer_redis_roundtrips_total

    def _counts(self, partition: int) -> str:
        return f"{self._prefix}{partition}"

    def _running(self, partition: int) -> str:
        return f"{self._prefix}running:{partition}"

    def load(self, partition: int) -> tuple[dict[int, int], set[int]]:
        """(attempts by offset, offsets of batches that were running) of a partition."""
        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.hgetall(self._counts(partition))
            pipe.smembers(self._running(partition))
            return list(pipe.execute())

        self.roundtrips += 1
        counts, running = self.breaker.call(run)
        offsets: set[int] = set()
        for member in running:
            offsets.update(unpack_offsets(member))
        return {int(k): int(v) for k, v in counts.items()}, offsets

    def starting(self, batches: Mapping[int, bytes]) -> None:
        """Records, before they start, batches about to be handed to handlers: partition ->
        packed offsets (``pack_offsets``)."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            self.queue_starting(pipe, batches)
            pipe.execute()

        self.roundtrips += 1
        self.breaker.call(run)

    def queue_starting(self, pipe: Any, batches: Mapping[int, bytes]) -> None:
        """``starting``'s commands on a pipeline, perhaps another caller's (the pre-start
        step sends them with dedup's lookup: one round trip instead of two)."""
        for partition, member in batches.items():
            pipe.sadd(self._running(partition), member)
            pipe.pexpire(self._running(partition), TTL_MS)

    def settled(self, batches: Mapping[int, Iterable[bytes]],
                counted: Mapping[int, Iterable[int]]) -> None:
        """Forgets settled batches, and the counts of settled offsets that had attempts."""
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for partition, members in batches.items():
                pipe.srem(self._running(partition), *members)
            for partition, done in counted.items():
                pipe.hdel(self._counts(partition), *[str(o) for o in done])
            pipe.execute()

        self.roundtrips += 1
        self.breaker.call(run)

    def charge(self, partition: int, offset: int) -> int:
        """One more attempt for the message; returns its attempts so far."""
        def run() -> int:
            pipe = self._client.pipeline(transaction=False)
            pipe.hincrby(self._counts(partition), str(offset), 1)
            pipe.pexpire(self._counts(partition), TTL_MS)
            return int(pipe.execute()[0])

        self.roundtrips += 1
        return self.breaker.call(run)

    def release(self, partition: int) -> None:
        """The partition was let go cleanly (drained, committed): nothing is in doubt."""
        self.roundtrips += 1
        self.breaker.call(lambda: self._client.delete(self._running(partition)))
