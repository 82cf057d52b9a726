"""The in-process Bloom filter of the dedup stage: "surely never recorded" in well under a
microsecond per id, so most ids need no Redis read. A "maybe" only costs a Redis read;
correctness never rests on the filter.

Keys are the 63-bit ``redis_keys.bloom_key`` of an id (XXH3), the same in every process, and
the group's record log carries them, 8 bytes an id. fastbloom-rs (Rust) holds the bits and
hashes the keys itself, in batch calls (one per generation per batch, no Python call per id);
its hashing does not depend on the process (Python's salted ``hash()`` of a str would), and its
bits can be saved and loaded. Chosen by measurement against pybloom-live (the named default)
and rbloom: ``bench/bloom.py``, figures in bench/RESULTS.md.

The window: two generations, each sized for ``capacity`` keys. Keys go into the current one;
a check asks both. When the current generation is ``retention_s`` old it becomes the previous
one and the previous one is dropped. A key added at time t sits in a generation that becomes
previous at some r > t and is dropped a further ``retention_s`` later, so every key is kept at
least ``retention_s`` after it was added, and memory stays two generations, whatever the
traffic. More keys than ``capacity`` per generation raise the false-positive rate (measured in
the bench), never the false-negative rate, which is zero.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from fastbloom_rs import BloomFilter

from .errors import ConfigError

_FORMAT_VERSION = 2
_HEADER = struct.Struct("<BBI")         # version, generations, hash functions
_GENERATION = struct.Struct("<dI")      # start time, byte length of the bits


class SnapshotMismatch(ValueError):
    """A saved filter that was built with other settings (or is damaged)."""


def _new_bloom(capacity: int, error_rate: float) -> BloomFilter:
    return BloomFilter(capacity, error_rate)


class WindowedBloom:
    def __init__(self, capacity: int, error_rate: float, retention_s: float, now: float) -> None:
        if capacity < 1 or not 0 < error_rate < 1 or retention_s <= 0:
            raise ConfigError("Bloom filter: capacity >= 1, 0 < error rate < 1, retention > 0")
        self.capacity = capacity
        self.error_rate = error_rate
        self.retention_s = retention_s
        # (start time, filter), oldest first; at most two
        self._generations: list[tuple[float, BloomFilter]] = [
            (now, _new_bloom(capacity, error_rate))]

    @property
    def bits(self) -> int:
        return sum(8 * len(bloom.get_bytes()) for _, bloom in self._generations)

    @property
    def generation_starts(self) -> list[float]:
        return [start for start, _ in self._generations]

    def rotate(self, now: float) -> None:
        current_start = self._generations[-1][0]
        if now - current_start < self.retention_s:
            return
        if now - current_start >= 2 * self.retention_s:
            # idle for two periods: both generations are past the window
            self._generations = [(now, _new_bloom(self.capacity, self.error_rate))]
            return
        self._generations = [self._generations[-1],
                             (now, _new_bloom(self.capacity, self.error_rate))]

    def add(self, keys: Sequence[int]) -> None:
        if keys:
            self._generations[-1][1].add_int_batch(keys)

    def might_contain(self, key: int) -> bool:
        return any(bloom.contains_int(key) for _, bloom in self._generations)

    def maybe_flags(self, keys: Sequence[int]) -> list[bool]:
        if not keys:
            return []
        current = self._generations[-1][1].contains_int_batch(keys, False)
        if len(self._generations) == 1:
            return list(current)
        older = self._generations[0][1].contains_int_batch(keys, False)
        return [a or b for a, b in zip(current, older, strict=True)]

    def absorb(self, other: WindowedBloom) -> None:
        """Takes ``other``'s generations and timing, and ORs everything this filter held into
        the current generation: every key is then kept at least as long as before."""
        if (other.capacity, other.error_rate) != (self.capacity, self.error_rate):
            raise SnapshotMismatch("filters of different sizes cannot be merged")
        merged = [(start, BloomFilter.from_bytes(bloom.get_bytes(), bloom.hashes()))
                  for start, bloom in other._generations]
        for _, bloom in self._generations:
            merged[-1][1].union(bloom)
        self._generations = merged

    def to_bytes(self) -> bytes:
        hashes = self._generations[0][1].hashes()
        parts = [_HEADER.pack(_FORMAT_VERSION, len(self._generations), hashes)]
        for start, bloom in self._generations:
            blob = bloom.get_bytes()
            parts.append(_GENERATION.pack(start, len(blob)))
            parts.append(blob)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, capacity: int, error_rate: float,
                   retention_s: float) -> WindowedBloom:
        """Raises ``SnapshotMismatch`` unless ``data`` is a filter of exactly these settings."""
        filter_ = cls(capacity, error_rate, retention_s, now=0.0)
        fresh = filter_._generations[0][1]
        try:
            version, count, hashes = _HEADER.unpack_from(data, 0)
        except struct.error as exc:
            raise SnapshotMismatch("truncated Bloom snapshot") from exc
        if version != _FORMAT_VERSION or count not in (1, 2):
            raise SnapshotMismatch(f"unknown Bloom snapshot format {version}/{count}")
        if hashes != fresh.hashes():
            raise SnapshotMismatch("the snapshot's filter has other settings")
        size = len(fresh.get_bytes())
        offset = _HEADER.size
        generations: list[tuple[float, BloomFilter]] = []
        for _ in range(count):
            try:
                start, length = _GENERATION.unpack_from(data, offset)
            except struct.error as exc:
                raise SnapshotMismatch("truncated Bloom snapshot") from exc
            offset += _GENERATION.size
            blob = data[offset:offset + length]
            offset += length
            if len(blob) != size:
                raise SnapshotMismatch("the snapshot's filter has other settings")
            generations.append((start, BloomFilter.from_bytes(blob, hashes)))
        if offset != len(data):
            raise SnapshotMismatch("trailing bytes after the Bloom snapshot")
        filter_._generations = generations
        return filter_
