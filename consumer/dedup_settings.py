"""Settings of the dedup stage and the time-bucket arithmetic of its done marks in Redis.

An id recorded at time t goes into the strings of bucket ``floor(t / bucket_s)``, which expire a
window (plus skew) after the bucket ends; a lookup at time ``now`` asks every bucket from
``now - window_s - skew`` to ``now + skew``. So an id is reported seen for at least
``window_s`` after it was recorded, by members whose clocks differ by up to ``clock_skew_s``,
and for at most ``window_s + bucket_s + 2 * clock_skew_s``. More buckets per window mean less
overshoot (memory) but more strings to read per lookup (one per bucket, in one script call
per shard).

``done_parts`` splits each bucket's digests over that many strings, by a byte of the digest: a
record appends to up to ``done_parts`` strings (one Lua call each inside its script, ~1 µs
of Redis), a lookup searches ~``12 * ids per bucket / done_parts`` bytes in each bucket. The
default 256 keeps that under 4 KB a bucket at 1M ids a window, 12 buckets.

Sizing the Bloom filter: ``bloom_capacity`` is the number of ids a group records per window
(``--dedup-capacity``).
Each member holds two generations of ``1.44 * log2(1 / bloom_error_rate)`` bits per id of
capacity (1.8 MB each at 1M and 0.1%), and so does the snapshot in Redis. Past its capacity a
filter's false-positive rate rises (~5% at twice the capacity, bench/RESULTS.md): more ids are
looked up in Redis, never a wrong answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .redis_keys import GroupKeys

MAX_BUCKETS_PER_WINDOW = 1000


@dataclass(frozen=True)
class DedupSettings:
    group: str
    window_s: float = 3600.0
    buckets_per_window: int = 12
    bloom_capacity: int = 1_000_000        # ids expected per window (per generation)
    bloom_error_rate: float = 0.001
    shards: int = 1                        # hash tags a group's ids spread over (redis_keys)
    done_parts: int = 256                  # done-marks strings per shard and bucket (dedup)
    snapshot_interval_s: float = 60.0
    clock_skew_s: float = 1.0
    log_read_count: int = 200              # record-log entries (recorded batches) per read

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ConfigError("the dedup window must be positive")
        if not 1 <= self.buckets_per_window <= MAX_BUCKETS_PER_WINDOW:
            raise ConfigError(f"dedup buckets per window: 1 to {MAX_BUCKETS_PER_WINDOW}")
        if self.bloom_capacity < 1 or not 0 < self.bloom_error_rate < 1:
            raise ConfigError("Bloom filter: capacity >= 1 and 0 < error rate < 1")
        if self.snapshot_interval_s <= 0 or self.clock_skew_s < 0 or self.log_read_count < 1:
            raise ConfigError("dedup: snapshot interval > 0, clock skew >= 0, read count >= 1")
        GroupKeys(self.group, self.shards, self.done_parts)

    @classmethod
    def of_runtime(cls, settings: Any) -> DedupSettings:
        """From the runtime's ``config.Settings`` (``group``, ``dedup_window_s``,
        ``dedup_capacity``)."""
        return cls(group=settings.group, window_s=settings.dedup_window_s,
                   bloom_capacity=settings.dedup_capacity)

    @property
    def bucket_s(self) -> float:
        return self.window_s / self.buckets_per_window

    @property
    def retention_s(self) -> float:
        """How long the Bloom filter keeps a key, and the log and snapshot keys live after
        their last write: longer than any id set they describe."""
        return self.window_s + self.bucket_s + 2 * self.clock_skew_s

    @property
    def fingerprint(self) -> str:
        """Filters with the same fingerprint have the same bit layout: snapshots fit."""
        return f"c{self.bloom_capacity}-e{self.bloom_error_rate!r}"


def bucket_of(t: float, settings: DedupSettings) -> int:
    return math.floor(t / settings.bucket_s)


def lookup_buckets(now: float, settings: DedupSettings) -> range:
    """Every bucket an id recorded less than a window ago may sit in, by a clock up to
    ``clock_skew_s`` off from ours either way."""
    return range(bucket_of(now - settings.window_s - settings.clock_skew_s, settings),
                 bucket_of(now + settings.clock_skew_s, settings) + 1)


def bucket_expires_at(bucket: int, settings: DedupSettings) -> float:
    """When a bucket's strings may go: a window (plus skew) after the bucket's last moment."""
    return (bucket + 1) * settings.bucket_s + settings.window_s + settings.clock_skew_s
