"""Redis key names of one consumer group, and the two hashes that stand for a message id.

Every key is ``consumer:{<tag>}:<kind>:...``. The braces are a Redis Cluster hash tag: only the
part inside them picks the slot, so all keys with one tag live on one node and a command that
carries many ids (SADD, SMISMEMBER, MGET, DEL) never spans slots. With ``shards=1`` (the
default) the tag is the group name, so every key of a group is in one slot and a batch is one
round trip to one node. ``shards=N`` spreads a group's ids over the tags ``<group>#0`` ...
``<group>#N-1`` (and so over the nodes of a cluster); batches are then split per shard. The
group-wide keys (the record log, snapshots) always use the plain group tag. Every member of a
group must use the same ``shards``.

Ids are stored in Redis as their 16-byte BLAKE2b digest: the memory cost per id does not depend
on the id's length, and two ids share a digest (which would make a new message look like a
duplicate) only with cryptographic improbability, even for ids chosen by an adversary.
The Bloom filter keys on a cheaper 64-bit XXH3 of the id, where a collision only costs a
Redis read. Both are stable across processes and machines, unlike Python's salted ``hash()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import xxhash

from .constants import REDIS_ATTEMPTS_KIND, REDIS_DEDUP_KIND, REDIS_PREFIX
from .errors import ConfigError

DIGEST_BYTES = 16
MAX_SHARDS = 1024


def id_bytes(message_id: str) -> bytes:
    # surrogatepass: a header decoded with surrogateescape still encodes, to its own bytes
    return message_id.encode("utf-8", "surrogatepass")


def id_digest(raw_id: bytes) -> bytes:
    return hashlib.blake2b(raw_id, digest_size=DIGEST_BYTES).digest()


def bloom_key(raw_id: bytes) -> int:
    return xxhash.xxh3_64_intdigest(raw_id)


@dataclass(frozen=True)
class GroupKeys:
    group: str
    shards: int = 1

    def __post_init__(self) -> None:
        if not self.group:
            raise ConfigError("the consumer group name must not be empty")
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ConfigError(f"Redis shards must be between 1 and {MAX_SHARDS}")

    def shard_of(self, digest: bytes) -> int:
        if self.shards == 1:
            return 0
        return int.from_bytes(digest[:4], "little") % self.shards

    def by_shard(self, digests: Sequence[bytes]) -> dict[int, list[int]]:
        """Positions in ``digests`` grouped by shard."""
        if self.shards == 1:
            return {0: list(range(len(digests)))}
        groups: dict[int, list[int]] = {}
        for position, digest in enumerate(digests):
            groups.setdefault(self.shard_of(digest), []).append(position)
        return groups

    def _tag(self, shard: int) -> str:
        return self.group if self.shards == 1 else f"{self.group}#{shard}"

    def _group_key(self, name: str) -> str:
        return f"{REDIS_PREFIX}:{{{self.group}}}:{REDIS_DEDUP_KIND}:{name}"

    def done(self, shard: int, bucket: int) -> str:
        """The set of digests recorded done during time bucket ``bucket``."""
        return f"{REDIS_PREFIX}:{{{self._tag(shard)}}}:{REDIS_DEDUP_KIND}:done:{bucket}"

    def attempts(self, shard: int, digest: bytes) -> str:
        return f"{REDIS_PREFIX}:{{{self._tag(shard)}}}:{REDIS_ATTEMPTS_KIND}:{digest.hex()}"

    @property
    def log(self) -> str:
        """The stream every member appends the Bloom keys of each recorded batch to."""
        return self._group_key("log")

    @property
    def trimmed(self) -> str:
        """The stream id below which the log may have been trimmed."""
        return self._group_key("trimmed")

    def snapshot(self, fingerprint: str) -> str:
        """The latest Bloom snapshot for filters built with the settings ``fingerprint``."""
        return self._group_key(f"snapshot:{fingerprint}")

    @property
    def snapshot_lock(self) -> str:
        return self._group_key("snapshot-lock")
