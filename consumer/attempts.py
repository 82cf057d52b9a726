"""Attempt counts that survive the process: the runtime charges an attempt in Redis *before* it
runs a suspect message (one redelivered after a crash), so a poison message that kills the
process on every try still reaches ``--max-attempts`` and the dead-letter topic instead of
crash-looping the group.

    attempts = AttemptStore("redis://127.0.0.1:6379/0", group="orders")
    counts = attempts.incr(["order-17", "order-18"])    # -> [1, 1]; next time [2, 2]
    attempts.clear(["order-17"])                         # once it is done or dead-lettered

One key per id, ``consumer:{<group>[#shard]}:attempts:<digest>``, hash-tagged like the dedup
keys of the same id (pass the dedup store's ``shards``), expiring ``ttl_s`` after its last
increment. All commands of a batch go out in one pipeline: one round trip (on a cluster, one
per node concerned, sent together), with single-key commands only, which a cluster pipeline
accepts whatever slots the keys are in. Redis errors become ``RedisUnavailable`` through the
breaker, which the runtime may share with its ``DedupStore``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ConfigError
from .redis_breaker import RedisBreaker
from .redis_conn import RedisClient, connect, require_bytes_replies
from .redis_keys import GroupKeys, id_bytes, id_digest

DEFAULT_TTL_S = 7 * 86400.0


class AttemptStore:
    """Thread-safe (redis-py clients are), so handler threads may share one."""

    def __init__(self, redis: str | RedisClient, group: str, *, shards: int = 1,
                 ttl_s: float = DEFAULT_TTL_S, breaker: RedisBreaker | None = None) -> None:
        if ttl_s <= 0:
            raise ConfigError("the attempt counts' TTL must be positive")
        self._keys = GroupKeys(group, shards)
        self._ttl_ms = int(ttl_s * 1000)
        self._url = redis if isinstance(redis, str) else None
        self._client = None if isinstance(redis, str) else require_bytes_replies(redis)
        self.breaker = breaker or RedisBreaker("redis (attempts)")

    def incr(self, ids: Sequence[str]) -> list[int]:
        """Charges one attempt to each id; returns the counts after it, in order."""
        if not ids:
            return []

        def run() -> list[int]:
            pipe = self._connected().pipeline(transaction=False)
            for key in self._keys_of(ids):
                pipe.incr(key)
                pipe.pexpire(key, self._ttl_ms)
            return [int(count) for count in pipe.execute()[::2]]

        return self.breaker.call(run)

    def get(self, ids: Sequence[str]) -> list[int]:
        """The counts, 0 for an id never charged (or whose count expired)."""
        if not ids:
            return []

        def run() -> list[int]:
            pipe = self._connected().pipeline(transaction=False)
            for key in self._keys_of(ids):
                pipe.get(key)
            return [int(value) if value is not None else 0 for value in pipe.execute()]

        return self.breaker.call(run)

    def clear(self, ids: Sequence[str]) -> None:
        if not ids:
            return

        def run() -> None:
            pipe = self._connected().pipeline(transaction=False)
            for key in self._keys_of(ids):
                pipe.delete(key)
            pipe.execute()

        self.breaker.call(run)

    def close(self) -> None:
        if self._url is not None and self._client is not None:
            self._client.close()
            self._client = None

    def _connected(self) -> RedisClient:
        if self._client is None:
            assert self._url is not None
            self._client = connect(self._url)
        return self._client

    def _keys_of(self, ids: Sequence[str]) -> list[str]:
        keys = []
        for message_id in ids:
            digest = id_digest(id_bytes(message_id))
            keys.append(self._keys.attempts(self._keys.shard_of(digest), digest))
        return keys
