"""The in-process Bloom filter of the dedup stage: "surely never recorded" in ~0.2 µs, so most
ids need no Redis read. A "maybe" only costs a Redis read; correctness never rests on it.

Keys are the 64-bit ``redis_keys.bloom_key`` of an id (XXH3), the same in every process, and
the group's record log carries them, 8 bytes an id. rbloom (Rust) holds the bits; given ``int``
as its hash function it uses the key itself as the hash: no Python call per id beyond the
builtin, stable across processes (Python's salted ``hash()`` of a str is not), and savable
(rbloom refuses to save a filter that uses the builtin ``hash``). Chosen by measurement against
pybloom-live: ``bench/bloom.py``, figures in bench/RESULTS.md.

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
from collections.abc import Iterable

from rbloom import Bloom

from .errors import ConfigError

_FORMAT_VERSION = 1
_HEADER = struct.Struct("<BB")          # version, generations
_GENERATION = struct.Struct("<dI")      # start time, byte length of rbloom's blob
_RBLOOM_K_BYTES = 8                     # rbloom's blob: k (u64), then the bit words


class SnapshotMismatch(ValueError):
    """A saved filter that was built with other settings (or is damaged)."""


def _new_bloom(capacity: int, error_rate: float) -> Bloom:
    return Bloom(capacity, error_rate, int)


class WindowedBloom:
    def __init__(self, capacity: int, error_rate: float, retention_s: float, now: float) -> None:
        if capacity < 1 or not 0 < error_rate < 1 or retention_s <= 0:
            raise ConfigError("Bloom filter: capacity >= 1, 0 < error rate < 1, retention > 0")
        self.capacity = capacity
        self.error_rate = error_rate
        self.retention_s = retention_s
        # (start time, filter), oldest first; at most two
        self._generations: list[tuple[float, Bloom]] = [(now, _new_bloom(capacity, error_rate))]

    @property
    def bits(self) -> int:
        return sum(bloom.size_in_bits for _, bloom in self._generations)

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

    def add(self, keys: Iterable[int]) -> None:
        self._generations[-1][1].update(keys)

    def might_contain(self, key: int) -> bool:
        return any(key in bloom for _, bloom in self._generations)

    def maybe_flags(self, keys: Iterable[int]) -> list[bool]:
        if len(self._generations) == 1:
            current = self._generations[0][1]
            return [key in current for key in keys]
        older, current = self._generations[0][1], self._generations[1][1]
        return [key in current or key in older for key in keys]

    def absorb(self, other: WindowedBloom) -> None:
        """Takes ``other``'s generations and timing, and ORs everything this filter held into
        the current generation: every key is then kept at least as long as before."""
        if (other.capacity, other.error_rate) != (self.capacity, self.error_rate):
            raise SnapshotMismatch("filters of different sizes cannot be merged")
        merged = [(start, bloom.copy()) for start, bloom in other._generations]
        for _, bloom in self._generations:
            merged[-1][1].update(bloom)
        self._generations = merged

    def to_bytes(self) -> bytes:
        parts = [_HEADER.pack(_FORMAT_VERSION, len(self._generations))]
        for start, bloom in self._generations:
            blob = bloom.save_bytes()
            parts.append(_GENERATION.pack(start, len(blob)))
            parts.append(blob)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, capacity: int, error_rate: float,
                   retention_s: float) -> WindowedBloom:
        """Raises ``SnapshotMismatch`` unless ``data`` is a filter of exactly these settings."""
        filter_ = cls(capacity, error_rate, retention_s, now=0.0)
        expected = filter_._generations[0][1].save_bytes()
        try:
            version, count = _HEADER.unpack_from(data, 0)
        except struct.error as exc:
            raise SnapshotMismatch("truncated Bloom snapshot") from exc
        if version != _FORMAT_VERSION or count not in (1, 2):
            raise SnapshotMismatch(f"unknown Bloom snapshot format {version}/{count}")
        offset = _HEADER.size
        generations: list[tuple[float, Bloom]] = []
        for _ in range(count):
            try:
                start, length = _GENERATION.unpack_from(data, offset)
            except struct.error as exc:
                raise SnapshotMismatch("truncated Bloom snapshot") from exc
            offset += _GENERATION.size
            blob = data[offset:offset + length]
            offset += length
            # rbloom panics (BaseException) on a malformed blob: check its shape first
            if (len(blob) != len(expected)
                    or blob[:_RBLOOM_K_BYTES] != expected[:_RBLOOM_K_BYTES]):
                raise SnapshotMismatch("the snapshot's filter has other settings")
            generations.append((start, Bloom.load_bytes(blob, int)))
        if offset != len(data):
            raise SnapshotMismatch("trailing bytes after the Bloom snapshot")
        filter_._generations = generations
        return filter_
