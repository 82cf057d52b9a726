"""Dedup: which message ids a consumer group has already processed, asked and told in batches.

    store = DedupStore("redis://127.0.0.1:6379/0", DedupSettings(group="orders", window_s=3600))
    seen = store.seen(ids)      # per id: True = recorded done within the window (a duplicate)
    store.record(done_ids)      # durable in Redis when it returns: commit offsets after
    store.counters              # bloom_negative, redis_hit, redis_miss, redis_roundtrips

Redis is the authority. ``record`` SADDs the ids' 16-byte digests into the set of the current
time bucket (``bucket_s = window_s / buckets_per_window``), one SADD per shard per batch, and
the set expires as a whole ``window_s + clock_skew_s`` after its bucket ends. ``seen`` asks
every bucket that overlaps ``[now - window_s - skew, now + skew]`` with one SMISMEMBER per
bucket and shard, all in one pipeline. An id is reported seen for at least ``window_s`` after it
was recorded and at most ``window_s + bucket_s + 2 * skew``. Memory: ~50-60 bytes per id in
the sets, plus 8 bytes per id in the record log while it is untrimmed (``bench/dedup.py``
measures it; bench/RESULTS.md has the figures). Timestamps are Redis's clock, estimated from
TIME when the store starts and once per ``snapshot_interval_s``, so members' clocks do not
need to agree; ``clock_skew_s`` only covers the estimate's error.

The Bloom filter (``bloom.WindowedBloom``) answers "surely not recorded" for most ids, so only
its "maybe"s are looked up in Redis. It is one filter for the whole group, not per partition,
so rebalances change nothing. Why it never lets a duplicate through:

1. Every ``record`` appends the batch's Bloom keys to the group's log (a Redis stream, see
   ``dedup_log``) in the same pipeline as its SADDs, and returns only once both are applied.
2. Each member keeps a log position P and the invariant: its filter holds the key of every id
   in log entries up to P, and of every id it recorded itself. A new member gets it from a
   snapshot (filter bits of a member that held it, with that member's P), or from P = 0 when
   the log was never trimmed.
3. ``seen`` first reads the log after P (the same round trip as the lookups of the filter's
   "maybe"s) and adds the other members' keys; ids of this batch that only now match get a
   second lookup. So if any member's ``record(x)`` returned before ``seen([x])`` started, x's
   entry is either at or below P (its key is in the filter) or is returned by this read; either
   way x is looked up in Redis, where its SADD already is, and reported seen.
4. The read also fetches ``trimmed``: if the log may have lost entries after P, the filter is
   not trusted: every id goes to Redis until the member rebuilds from a snapshot that is newer
   than the trim (at once, if there is one) or until a full window has passed since, after which
   nothing it missed is within the window anyway.
5. The filter keeps every key at least a window after it was added (two generations), and a
   key is added no earlier than its id was recorded.

A "seen" answer needs the id's digest in a done set, so an id nobody recorded is never reported
seen. Redis must keep what it acknowledged: use ``maxmemory-policy noeviction``, and know that a
failover losing acknowledged writes loses those ids (handler idempotency, ``idempotency.py``,
is the second layer for that, as for a crash between a side effect and its ``record``).

Redis Cluster: pass a ``redis+cluster://`` URL (``redis_conn``); keys are hash-tagged per group
or per shard (``redis_keys``). Failures go through a ``RedisBreaker``: every error is
``RedisUnavailable``; while the breaker is open calls fail fast, and ``available()`` tells the
runtime when to try again. One store serves one thread (the runtime's poll thread).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .bloom import SnapshotMismatch, WindowedBloom
from .dedup_log import ZERO, GroupLog, StreamId, Tail, parse_id
from .errors import ConfigError
from .redis_breaker import REDIS_FAILURES, RedisBreaker
from .redis_conn import RedisClient, connect
from .redis_keys import GroupKeys, bloom_key, id_bytes, id_digest

log = logging.getLogger(__name__)

MAX_BUCKETS_PER_WINDOW = 1000


@dataclass(frozen=True)
class DedupSettings:
    group: str
    window_s: float = 3600.0
    buckets_per_window: int = 12
    bloom_capacity: int = 1_000_000        # ids expected per window
    bloom_error_rate: float = 0.001
    shards: int = 1
    snapshot_interval_s: float = 60.0
    clock_skew_s: float = 1.0
    log_read_count: int = 200              # log entries (recorded batches) per read

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ConfigError("the dedup window must be positive")
        if not 1 <= self.buckets_per_window <= MAX_BUCKETS_PER_WINDOW:
            raise ConfigError(f"dedup buckets per window: 1 to {MAX_BUCKETS_PER_WINDOW}")
        if self.bloom_capacity < 1 or not 0 < self.bloom_error_rate < 1:
            raise ConfigError("Bloom filter: capacity >= 1 and 0 < error rate < 1")
        if self.snapshot_interval_s <= 0 or self.clock_skew_s < 0 or self.log_read_count < 1:
            raise ConfigError("dedup: snapshot interval > 0, clock skew >= 0, read count >= 1")
        GroupKeys(self.group, self.shards)

    @property
    def bucket_s(self) -> float:
        return self.window_s / self.buckets_per_window

    @property
    def retention_s(self) -> float:
        """How long the filter keeps a key and the log/snapshot keys live after a write."""
        return self.window_s + self.bucket_s + 2 * self.clock_skew_s

    @property
    def fingerprint(self) -> str:
        """Filters with the same fingerprint have the same bit layout (snapshots fit)."""
        return f"c{self.bloom_capacity}-e{self.bloom_error_rate!r}"


def bucket_of(t: float, settings: DedupSettings) -> int:
    return math.floor(t / settings.bucket_s)


def lookup_buckets(now: float, settings: DedupSettings) -> range:
    """Every bucket an id recorded less than a window ago may sit in, by a clock up to
    ``clock_skew_s`` off from ours either way."""
    return range(bucket_of(now - settings.window_s - settings.clock_skew_s, settings),
                 bucket_of(now + settings.clock_skew_s, settings) + 1)


def bucket_expires_at(bucket: int, settings: DedupSettings) -> float:
    """When a bucket's set may go: a window (plus skew) after the bucket's last moment."""
    return (bucket + 1) * settings.bucket_s + settings.window_s + settings.clock_skew_s


@dataclass(frozen=True)
class DedupCounters:
    bloom_negative: int = 0
    redis_hit: int = 0
    redis_miss: int = 0
    redis_roundtrips: int = 0


class DedupStore:
    def __init__(self, redis: str | RedisClient, settings: DedupSettings, *,
                 breaker: RedisBreaker | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.breaker = breaker or RedisBreaker("redis (dedup)")
        self._url = redis if isinstance(redis, str) else None
        self._client: RedisClient | None = None if isinstance(redis, str) else redis
        self._clock = clock
        self._clock_offset_s = 0.0
        self._keys = GroupKeys(settings.group, settings.shards)
        self._log = GroupLog(self._keys, os.urandom(8), int(settings.retention_s * 1000),
                             settings.log_read_count)
        self._bloom: WindowedBloom | None = None
        self._position: StreamId = ZERO
        self._trimmed_below: StreamId = ZERO
        self._distrust_until: float | None = None   # None: the filter is trusted
        self._next_maintenance = 0.0
        self._counts = [0, 0, 0, 0]                  # as DedupCounters' fields

    @classmethod
    def from_settings(cls, settings: Any) -> DedupStore:
        """From the runtime's ``config.Settings`` (``redis``, ``group``, ``dedup_window_s``)."""
        return cls(settings.redis, DedupSettings(group=settings.group,
                                                 window_s=settings.dedup_window_s))

    # -- the API the runtime calls ---------------------------------------------------------
    def seen(self, ids: Sequence[str]) -> list[bool]:
        if not ids:
            return []
        return self.breaker.call(lambda: self._seen(ids))

    def record(self, ids: Sequence[str]) -> None:
        if ids:
            self.breaker.call(lambda: self._record(ids))

    @property
    def counters(self) -> DedupCounters:
        return DedupCounters(*self._counts)

    @property
    def filter_trusted(self) -> bool:
        return self._distrust_until is None

    def available(self) -> bool:
        return self.breaker.available()

    def retry_in_s(self) -> float:
        return self.breaker.retry_in_s()

    def close(self) -> None:
        if self._url is not None and self._client is not None:
            self._client.close()
            self._client = None

    # -- seen ------------------------------------------------------------------------------
    def _seen(self, ids: Sequence[str]) -> list[bool]:
        client, bloom, now = self._ready()
        raw = [id_bytes(message_id) for message_id in ids]
        keys = [bloom_key(r) for r in raw]
        if self._trusted(now):
            maybe = bloom.maybe_flags(keys)
            candidates = [i for i, flag in enumerate(maybe) if flag]
        else:
            candidates = list(range(len(ids)))
        was_trusted = self._distrust_until is None
        pipe = client.pipeline(transaction=False)
        self._log.queue_read(pipe, self._position)
        plan = self._queue_lookup(pipe, [id_digest(raw[i]) for i in candidates], now)
        replies = self._execute(pipe)
        learned: set[int] = set()
        more = self._absorb(self._log.parse_read(replies[:GroupLog.READ_REPLIES]), learned, now)
        found = self._answers(plan, replies[GroupLog.READ_REPLIES:], candidates, len(ids))
        while more:
            more = self._read_more(client, learned, now)
        checked = set(candidates)
        if was_trusted and self._distrust_until is not None:
            late = [i for i in range(len(ids)) if i not in checked]
        else:
            late = [i for i in range(len(ids)) if i not in checked and keys[i] in learned]
        if late:
            pipe = client.pipeline(transaction=False)
            late_plan = self._queue_lookup(pipe, [id_digest(raw[i]) for i in late], now)
            late_found = self._answers(late_plan, self._execute(pipe), late, len(ids))
            found = [a or b for a, b in zip(found, late_found, strict=True)]
        looked_up = len(candidates) + len(late)
        hits = sum(found)
        self._counts[0] += len(ids) - looked_up
        self._counts[1] += hits
        self._counts[2] += looked_up - hits
        self._maintain(client, now)
        return found

    def _queue_lookup(self, pipe: Any, digests: list[bytes], now: float) -> list[list[int]]:
        """One SMISMEMBER per shard and bucket of the window; returns, per queued command, the
        positions (in ``digests``) its reply answers."""
        if not digests:
            return []
        buckets = lookup_buckets(now, self.settings)
        plan: list[list[int]] = []
        for shard, positions in self._keys.by_shard(digests).items():
            members = [digests[p] for p in positions]
            for bucket in buckets:
                pipe.smismember(self._keys.done(shard, bucket), members)
                plan.append(positions)
        return plan

    @staticmethod
    def _answers(plan: list[list[int]], replies: Sequence[Any], asked: list[int],
                 size: int) -> list[bool]:
        found = [False] * size
        for positions, reply in zip(plan, replies, strict=True):
            for position, hit in zip(positions, reply, strict=True):
                if hit:
                    found[asked[position]] = True
        return found

    def _absorb(self, tail: Tail, learned: set[int], now: float) -> bool:
        """Applies one read of the log; True when more entries may follow."""
        assert self._bloom is not None
        self._trimmed_below = max(self._trimmed_below, tail.trimmed_below)
        if tail.trimmed_below > self._position:
            self._distrust(now, "the record log was trimmed past this member's position")
        self._bloom.add(tail.keys)
        learned.update(tail.keys)
        if tail.last is not None and tail.last > self._position:
            self._position = tail.last
        return tail.more

    def _read_more(self, client: RedisClient, learned: set[int], now: float) -> bool:
        pipe = client.pipeline(transaction=False)
        self._log.queue_read(pipe, self._position)
        return self._absorb(self._log.parse_read(self._execute(pipe)), learned, now)

    # -- record ----------------------------------------------------------------------------
    def _record(self, ids: Sequence[str]) -> None:
        client, bloom, now = self._ready()
        raw = [id_bytes(message_id) for message_id in ids]
        digests = [id_digest(r) for r in raw]
        keys = [bloom_key(r) for r in raw]
        bucket = bucket_of(now, self.settings)
        expire_at_ms = int(bucket_expires_at(bucket, self.settings) * 1000)
        pipe = client.pipeline(transaction=False)
        for shard, positions in self._keys.by_shard(digests).items():
            done = self._keys.done(shard, bucket)
            pipe.sadd(done, *[digests[p] for p in positions])
            pipe.pexpireat(done, expire_at_ms)
        self._log.queue_append(pipe, keys)
        replies = self._execute(pipe)
        bloom.add(keys)
        appended = parse_id(replies[-GroupLog.APPEND_REPLIES])
        if appended <= self._position:
            # The log went back in time (a failover lost entries this member had read): read
            # it again from the start; a trim since shows up as a gap and is handled as one.
            log.warning("dedup: the record log of %r went back before this member's position",
                        self.settings.group)
            self._position = ZERO
        self._maintain(client, now)

    # -- state, snapshots, clock -----------------------------------------------------------
    def _ready(self) -> tuple[RedisClient, WindowedBloom, float]:
        if self._client is None:
            assert self._url is not None
            self._client = connect(self._url)
        if self._bloom is None:
            self._start(self._client)
        assert self._bloom is not None
        now = self._now()
        self._bloom.rotate(now)
        return self._client, self._bloom, now

    def _start(self, client: RedisClient) -> None:
        s = self.settings
        before = self._clock()
        pipe = client.pipeline(transaction=False)
        pipe.time()
        pipe.get(self._keys.trimmed)
        server_time, trimmed = self._execute(pipe)
        self._set_clock(server_time, before)
        now = self._now()
        self._trimmed_below = parse_id(trimmed) if trimmed else ZERO
        self._bloom = WindowedBloom(s.bloom_capacity, s.bloom_error_rate, s.retention_s, now)
        self._position = self._trimmed_below
        if self._trimmed_below != ZERO and not self._load_snapshot(client):
            self._distrust(now, "no snapshot covers the trimmed part of the record log")
        self._next_maintenance = now + s.snapshot_interval_s

    def _load_snapshot(self, client: RedisClient) -> bool:
        s = self.settings
        self._counts[3] += 1
        snapshot = self._log.load_snapshot(client, s.fingerprint)
        if snapshot is None or snapshot[0] < self._trimmed_below:
            return False
        position, blob = snapshot
        try:
            loaded = WindowedBloom.from_bytes(blob, s.bloom_capacity, s.bloom_error_rate,
                                              s.retention_s)
        except SnapshotMismatch as exc:
            log.warning("dedup: ignoring the Bloom snapshot of %r: %s", s.group, exc)
            return False
        assert self._bloom is not None
        self._bloom.absorb(loaded)
        self._position = max(self._position, position)
        self._distrust_until = None
        return True

    def _maintain(self, client: RedisClient, now: float) -> None:
        """Once per snapshot interval: refresh the clock estimate, and either write a snapshot
        (one member per interval) or, for an untrusted filter, try to rebuild from one. A
        failure here is only logged: the batch's answer is already right."""
        s = self.settings
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + s.snapshot_interval_s
        assert self._bloom is not None
        try:
            before = self._clock()
            pipe = client.pipeline(transaction=False)
            pipe.time()
            if self.filter_trusted:
                pipe.set(self._keys.snapshot_lock, b"1", nx=True,
                         px=int(s.snapshot_interval_s * 1000))
            replies = self._execute(pipe)
            self._set_clock(replies[0], before)
            if not self.filter_trusted:
                self._load_snapshot(client)
            elif replies[1]:
                self._counts[3] += 1
                self._log.write_snapshot(client, s.fingerprint, self._position,
                                         self._bloom.to_bytes())
        except REDIS_FAILURES as exc:
            log.warning("dedup: snapshot maintenance of %r failed: %s", s.group, exc)

    def _trusted(self, now: float) -> bool:
        if self._distrust_until is not None and now >= self._distrust_until:
            log.info("dedup: the Bloom filter of %r is trusted again (a window has passed)",
                     self.settings.group)
            self._distrust_until = None
        return self._distrust_until is None

    def _distrust(self, now: float, why: str) -> None:
        if self._distrust_until is None:
            log.warning("dedup: %s; every id of %r goes to Redis until the filter is rebuilt",
                        why, self.settings.group)
        self._distrust_until = now + self.settings.retention_s
        self._next_maintenance = now       # try a snapshot at the end of this call

    def _now(self) -> float:
        return self._clock() + self._clock_offset_s

    def _set_clock(self, server_time: tuple[int, int], sent_at: float) -> None:
        seconds, micros = server_time
        self._clock_offset_s = seconds + micros / 1e6 - (sent_at + self._clock()) / 2

    def _execute(self, pipe: Any) -> list[Any]:
        self._counts[3] += 1
        return list(pipe.execute())
