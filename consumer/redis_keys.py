"""Redis key names of one consumer group, and the two hashes that stand for a message id.

Every key is ``consumer:{<tag>}:<kind>:...``. The braces are a Redis Cluster hash tag: only the
part inside them picks the slot, so all keys with one tag live on one node and a command that
carries many ids (a batch's APPENDs, or the script that looks a batch up) never spans slots. With
``shards=1`` (the default) the tag is the group name, so every key of a group is in one slot
and a batch is one round trip to one node. ``shards=N`` spreads a group's ids over the tags
``<group>#0`` ... ``<group>#N-1`` (and so over the nodes of a cluster); batches are then split
per shard. The group-wide keys (the record log, snapshots) always use the plain group tag.
Every member of a group must use the same ``shards``.

Ids are stored in Redis as the first 12 bytes of their XXH3-128 hash: the memory cost per id
does not depend on the id's length (12 bytes in a done-marks string, ~20 with the room APPEND
reserves ahead, measured by bench/dedup.py), and two ids share a digest (which
would make a new message look like a duplicate) with a probability under 1e-9 even for 10^10
ids in one window. It is not a cryptographic hash, and need not be: whoever can produce a
message can give it any id, a colliding one included; a cryptographic digest cost 5x more per
id on the hot path (0.37 against 0.07 us).
The Bloom filter keys on a 63-bit XXH3 of the id, where a collision only costs a
Redis read. Both are stable across processes and machines, unlike Python's salted ``hash()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import xxhash

from .constants import REDIS_DEDUP_KIND, REDIS_PREFIX
from .errors import ConfigError

DIGEST_BYTES = 12
MAX_SHARDS = 1024
MAX_PARTS = 256
_PART_NAMES = [b"%d" % part for part in range(MAX_PARTS)]


def id_bytes(message_id: str) -> bytes:
    # surrogatepass: a header decoded with surrogateescape still encodes, to its own bytes
    return message_id.encode("utf-8", "surrogatepass")


def id_digest(raw_id: bytes) -> bytes:
    return xxhash.xxh3_128_digest(raw_id)[:DIGEST_BYTES]


def bloom_key(raw_id: bytes) -> int:
    # 63 bits: the Bloom filter takes signed 64-bit ints
    return xxhash.xxh3_64_intdigest(raw_id) >> 1


# Batch forms for the hot path: a comprehension over a local callable costs about half of a
# Python-level function call per id.
def ids_bytes(message_ids: Sequence[str]) -> list[bytes]:
    return [m.encode("utf-8", "surrogatepass") for m in message_ids]


def id_digests(raw_ids: Sequence[bytes]) -> list[bytes]:
    xxh3_128 = xxhash.xxh3_128_digest
    return [xxh3_128(r)[:DIGEST_BYTES] for r in raw_ids]


def bloom_keys(raw_ids: Sequence[bytes]) -> list[int]:
    xxh3 = xxhash.xxh3_64_intdigest
    return [xxh3(r) >> 1 for r in raw_ids]


def bloom_keys_of(message_ids: Sequence[str]) -> list[int]:
    """``bloom_keys(ids_bytes(message_ids))`` in one pass, keeping no bytes."""
    xxh3 = xxhash.xxh3_64_intdigest
    return [xxh3(m.encode("utf-8", "surrogatepass")) >> 1 for m in message_ids]


@dataclass(frozen=True)
class GroupKeys:
    group: str
    shards: int = 1
    parts: int = MAX_PARTS     # done-marks strings per shard and time bucket (dedup.py)

    def __post_init__(self) -> None:
        if not self.group:
            raise ConfigError("the consumer group name must not be empty")
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ConfigError(f"Redis shards must be between 1 and {MAX_SHARDS}")
        if not 1 <= self.parts <= MAX_PARTS or self.parts & (self.parts - 1):
            raise ConfigError(f"dedup parts must be a power of two from 1 to {MAX_PARTS}")

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

    def part_of(self, digest: bytes) -> int:
        # the last byte: shard_of reads the first four, so shards and parts split independently
        return digest[-1] & (self.parts - 1)

    def by_shard_and_part(self, digests: Sequence[bytes]) -> dict[int, dict[int, list[bytes]]]:
        """The digests grouped by the done-marks string they belong in: by shard, then part."""
        mask = self.parts - 1
        if self.shards > 1:
            groups: dict[int, dict[int, list[bytes]]] = {}
            for digest in digests:
                groups.setdefault(self.shard_of(digest), {}).setdefault(
                    digest[-1] & mask, []).append(digest)
            return groups
        # one shard is the common case, and this runs for every id a member records
        by_part: list[list[bytes]] = [[] for _ in range(self.parts)]
        for digest in digests:
            by_part[digest[-1] & mask].append(digest)
        return {0: {part: group for part, group in enumerate(by_part) if group}}

    def _tag(self, shard: int) -> str:
        return self.group if self.shards == 1 else f"{self.group}#{shard}"

    def _group_key(self, name: str) -> str:
        return f"{REDIS_PREFIX}:{{{self.group}}}:{REDIS_DEDUP_KIND}:{name}"

    def done(self, shard: int, buckets: Iterable[int], parts: Iterable[int]) -> list[bytes]:
        """The strings holding the digests of each of ``parts`` recorded done during each of
        ``buckets``, part after part (a batch touches up to every part: names are built from
        one prefix a bucket)."""
        tag = self._tag(shard)
        prefixes = [f"{REDIS_PREFIX}:{{{tag}}}:{REDIS_DEDUP_KIND}:done:{bucket}:".encode()
                    for bucket in buckets]
        return [prefix + _PART_NAMES[part] for part in parts for prefix in prefixes]

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
