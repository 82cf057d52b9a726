"""Dedup: which message ids a consumer group has already processed, asked and told in batches.

    store = DedupStore("redis://127.0.0.1:6379/0", DedupSettings(group="orders", window_s=3600))
    seen = store.seen(ids)      # per id: True = recorded done within the window (a duplicate)
    store.record(done_ids)      # durable in Redis when it returns: commit offsets after
    store.counters              # bloom_negative, redis_hit, redis_miss, redis_roundtrips

Redis is the authority. ``record`` appends the ids' 12-byte digests to done-marks strings,
one per shard, time bucket (``bucket_s = window_s / buckets_per_window``) and part (the
digest's last byte, ``done_parts`` of them, 256 by default): one script call per shard a
batch touches appends to each of its strings, and a string expires as a whole ``window_s +
clock_skew_s`` after its bucket ends. Appending costs Redis a copy per id and a call per
string where a set insert cost it a hash-table insert per id (~0.1 against ~0.6-1 µs an id at
batches of ~3,000, bench/RESULTS.md, "Done marks as strings"): Redis serves every member of a
group, so it bounds how far they scale.
``seen`` asks every bucket overlapping ``[now - window_s - skew, now + skew]``: one script call
per shard, in the pipeline that also reads the record log, reads the strings of the asked
digests' parts and searches them, a match counting only at a whole digest's offset. So a
lookup costs Redis a scan of ~``12 * ids per window / done_parts`` bytes per digest asked
(~47 KB at 1M ids per window), which is why only the Bloom filter's "maybe"s are asked. An id
is reported seen for at least ``window_s`` after it was recorded and at most ``window_s +
bucket_s + 2 * skew`` (``dedup_settings``). Memory in Redis: ~20 bytes per id in the strings
(12 of digest, the rest room APPEND reserves ahead), plus 8 bytes per id in the record log until a
snapshot lets it be trimmed (bench/dedup.py; bench/RESULTS.md has the figures). Times are
Redis's clock, estimated from TIME when the store starts and once per ``snapshot_interval_s``,
so members' clocks need not agree; ``clock_skew_s`` only covers the estimate's error. Needs
Redis 6.2 or later (XTRIM MINID).

The Bloom filter (``bloom.WindowedBloom``, kept by ``dedup_filter.GroupFilter``) answers
"surely not recorded" for most ids, so only its "maybe"s are looked up in Redis. It is one
filter for the whole group, not per partition, so rebalances change nothing. Why it never
lets a duplicate through:

1. Every ``record`` appends the batch's Bloom keys to the group's log (a Redis stream, see
   ``dedup_log``) in the same round trip as its APPENDs, and returns only once all are applied.
2. Each member keeps a log position P and the invariant: its filter holds the key of every id
   in log entries up to P, and of every id it recorded itself. A new member gets it from a
   snapshot (filter bits of a member that held it, with that member's P), or from P = 0 when
   the log was never trimmed.
3. ``seen`` first reads the log after P (the same round trip as the lookups of the filter's
   "maybe"s) and adds the other members' keys; ids of this batch that only now match get a
   second lookup. So if any member's ``record(x)`` returned before ``seen([x])`` started, x's
   entry is either at or below P (its key is in the filter) or is returned by this read; either
   way x is looked up in Redis, where its digest already is, and reported seen.
4. The read also fetches ``trimmed``: if the log may have lost entries after P, the filter is
   not trusted: every id goes to Redis until the member rebuilds from a snapshot that is newer
   than the trim (at once, if there is one) or until a full window has passed since, after which
   nothing it missed is within the window anyway.
5. The filter keeps every key at least a window after it was added (two generations), and a
   key is added no earlier than its id was recorded.

A "seen" answer needs the id's digest in a done-marks string, so an id nobody recorded is never
reported seen (unless two ids share a 96-bit digest, see ``redis_keys``). Redis must keep
what it acknowledged: use ``maxmemory-policy noeviction``, and know that a failover losing
acknowledged writes loses those ids (handler idempotency, ``idempotency.py``, is the second
layer for that, as for a crash between a side effect and its ``record``).

Redis Cluster: pass a ``redis+cluster://`` URL (``redis_conn``); keys are hash-tagged per group
or per shard (``redis_keys``). Failures go through a ``RedisBreaker``: every error is
``RedisUnavailable``; while the breaker is open calls fail fast, and ``available()`` tells the
runtime when to try again. A store is shared by threads: the poll thread and the executor's
workers look up, the done-marks writer records. What they share in memory (the filter, its log
position, the clock estimate) is changed under a lock; a record's round trip runs outside it,
so a lookup never waits for a record's APPENDs (measured: with two members on two cores, the
poll thread waited there 12% of its time). The record's Bloom keys go into the filter before
its round trip (a lookup may read its log entry, or a snapshot cover it, before the round
trip returns); a key there early only sends its id to Redis, which answers "not seen" until
the APPEND is applied.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .dedup_filter import GroupFilter
from .dedup_log import GroupLog, parse_id
from .dedup_settings import DedupSettings, bucket_expires_at, bucket_of, lookup_buckets
from .redis_breaker import RedisBreaker
from .redis_conn import RedisClient, connect, require_bytes_replies
from .redis_keys import (
    DIGEST_BYTES,
    GroupKeys,
    bloom_keys,
    bloom_keys_of,
    id_digests,
    ids_bytes,
)

__all__ = ["DedupCounters", "DedupSettings", "DedupStore"]

log = logging.getLogger(__name__)

# A record sends one script call per shard: a command per string touched (up to 256 a batch)
# cost Redis ~1.5 µs and the client ~3 µs each, mostly in their replies (bench/RESULTS.md, "Done
# marks as strings"). A string gets its expiry in the step that creates it, so none is left
# without one.
#
# KEYS: done-marks strings; ARGV[1]: their expiry, ms since the epoch; ARGV[1 + i]: the
# digests to append to KEYS[i].
_APPEND_DONE_MARKS = """
for i, key in ipairs(KEYS) do
  local marks = ARGV[i + 1]
  if redis.call('APPEND', key, marks) == #marks then redis.call('PEXPIREAT', key, ARGV[1]) end
end
return #KEYS
"""

# Lookups send their digests as one blob: redis-py's cost per argument and per command (~0.16
# µs an id, ~15 µs a command) would otherwise be most of the client's cost per lookup.
#
# KEYS: per part asked, the done-marks strings of the window's buckets, newest first (a
# duplicate usually follows its original soon: once found, a digest is not searched for in
# older buckets), part after part, one shard. ARGV: the digests, their width, the number of
# buckets, and per digest one byte: which of the parts asked (0, 1, ...) it belongs to.
# Returns one '0'/'1' per digest. A match counts only at a multiple of the width: strings hold
# whole digests, one after another. With many digests to find in one string, a table of its
# digests is cheaper than a search for each.
_FIND_DIGESTS = """
local blob, width, buckets, slots = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local asked, found = {}, {}
for i = 1, #slots do
  local slot = string.byte(slots, i)
  asked[slot] = asked[slot] or {}
  table.insert(asked[slot], i)
  found[i] = '0'
end
local function digest(i) return string.sub(blob, (i - 1) * width + 1, i * width) end
for slot, positions in pairs(asked) do
  for bucket = 1, buckets do
    local missing = {}
    for _, i in ipairs(positions) do
      if found[i] == '0' then missing[#missing + 1] = i end
    end
    if #missing == 0 then break end
    local marks = redis.call('GET', KEYS[slot * buckets + bucket])
    if marks and #missing > 32 then
      local held = {}
      for at = 1, #marks, width do held[string.sub(marks, at, at + width - 1)] = true end
      for _, i in ipairs(missing) do
        if held[digest(i)] then found[i] = '1' end
      end
    elseif marks then
      for _, i in ipairs(missing) do
        local d, at = digest(i), 0
        repeat at = string.find(marks, d, at + 1, true) until not at or (at - 1) % width == 0
        if at then found[i] = '1' end
      end
    end
  end
end
return table.concat(found)
"""


@dataclass(frozen=True)
class DedupCounters:
    """Running totals since the store was made; the runtime turns their increases into
    ``consumer_dedup_checks_total`` and ``consumer_redis_roundtrips_total``."""

    bloom_negative: int = 0
    redis_hit: int = 0
    redis_miss: int = 0
    redis_roundtrips: int = 0


class DedupStore:
    def __init__(self, redis: str | RedisClient, settings: DedupSettings, *,
                 breaker: RedisBreaker | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``redis``: a URL (``redis_conn``; the store then owns its client and connects on
        first use) or a client shared with other Redis users."""
        self.settings = settings
        self.breaker = breaker or RedisBreaker("redis (dedup)")
        self._url = redis if isinstance(redis, str) else None
        self._client = None if isinstance(redis, str) else require_bytes_replies(redis)
        self._keys = GroupKeys(settings.group, settings.shards, settings.done_parts)
        self._filter = GroupFilter(settings, self._keys, clock)
        self._bloom_negative = self._redis_hit = self._redis_miss = self._roundtrips = 0
        self._lock = threading.Lock()
        self._size_check_due = 0.0
        self._size_checked_at = (0, 0)     # bloom_negative, redis_miss

    def seen(self, ids: Sequence[str], also: Callable[[Any], None] | None = None) -> list[bool]:
        """Per id, in order: True when it was recorded done within the window. ``also``
        queues a caller's commands on the pipeline of the lookup's first round trip (their
        replies are not looked at): applied when this returns; perhaps not when it raises."""
        if not ids:
            return []
        return self.breaker.call(lambda: self._seen(ids, also))

    def record(self, ids: Sequence[str]) -> None:
        """Marks the ids done; they are in Redis when this returns."""
        if ids:
            self.breaker.call(lambda: self._record(ids))

    @property
    def counters(self) -> DedupCounters:
        return DedupCounters(self._bloom_negative, self._redis_hit, self._redis_miss,
                             self._roundtrips + self._filter.roundtrips)

    @property
    def filter_trusted(self) -> bool:
        return self._filter.trusted

    def available(self) -> bool:
        """False while the breaker is open and its probe is not due yet."""
        return self.breaker.available()

    def retry_in_s(self) -> float:
        return self.breaker.retry_in_s()

    def close(self) -> None:
        if self._url is not None and self._client is not None:
            self._client.close()
            self._client = None

    def _seen(self, ids: Sequence[str], also: Callable[[Any], None] | None) -> list[bool]:
        keys = bloom_keys_of(ids)
        with self._lock:
            return self._seen_locked(ids, keys, also)

    def _seen_locked(self, ids: Sequence[str], keys: list[int],
                     also: Callable[[Any], None] | None) -> list[bool]:
        client, now = self._ready()
        was_trusted = self._filter.trusted
        candidates = [i for i, maybe in enumerate(self._filter.maybe_flags(keys)) if maybe]
        pipe = client.pipeline(transaction=False)
        self._filter.record_log.queue_read(pipe, self._filter.position)
        plan = self._queue_lookup(pipe, id_digests(ids_bytes([ids[i] for i in candidates])), now)
        if also is not None:
            also(pipe)
        replies = self._execute(pipe)
        learned: set[int] = set()
        more = self._filter.absorb(replies[:GroupLog.READ_REPLIES], learned, now)
        lookups = replies[GroupLog.READ_REPLIES:GroupLog.READ_REPLIES + len(plan)]
        found = self._answers(plan, lookups, candidates, len(ids))
        while more:
            more = self._filter.read_more(client, learned, now)
        # ids the filter cleared before this read may have been recorded by another member
        # since: those whose keys the read brought, or all of them if it revealed a gap
        checked = set(candidates)
        lost_trust = was_trusted and not self._filter.trusted
        late = [i for i in range(len(ids))
                if i not in checked and (lost_trust or keys[i] in learned)]
        if late:
            pipe = client.pipeline(transaction=False)
            late_digests = id_digests(ids_bytes([ids[i] for i in late]))
            late_plan = self._queue_lookup(pipe, late_digests, now)
            late_found = self._answers(late_plan, self._execute(pipe), late, len(ids))
            found = [a or b for a, b in zip(found, late_found, strict=True)]
        looked_up = len(candidates) + len(late)
        hits = sum(found)
        self._bloom_negative += len(ids) - looked_up
        self._redis_hit += hits
        self._redis_miss += looked_up - hits
        self._filter.maintain(client, now)
        self._check_filter_size(now)
        return found

    def _check_filter_size(self, now: float) -> None:
        """Once per snapshot interval: warns when the filter passes far more unrecorded ids
        to Redis than its error rate allows, as a filter past its capacity does; each costs
        Redis a search through one part's strings of the whole window."""
        if now < self._size_check_due:
            return
        negative = self._bloom_negative - self._size_checked_at[0]
        missed = self._redis_miss - self._size_checked_at[1]
        self._size_checked_at = (self._bloom_negative, self._redis_miss)
        self._size_check_due = now + self.settings.snapshot_interval_s
        false_positives = missed / max(1, negative + missed)
        s = self.settings
        if (self._filter.trusted and missed >= 1000
                and false_positives > max(0.01, 10 * s.bloom_error_rate)):
            log.warning("dedup: the Bloom filter of %r let %.1f%% of new ids through to Redis "
                        "(sized for %d ids a window at %g): raise --dedup-capacity to the ids "
                        "recorded per window", s.group, 100 * false_positives, s.bloom_capacity,
                        s.bloom_error_rate)

    def _queue_lookup(self, pipe: Any, digests: list[bytes], now: float) -> list[list[int]]:
        """One script call per shard, asking every bucket of the window in the digests' parts;
        returns, per queued call, the positions (in ``digests``) its reply answers."""
        if not digests:
            return []
        buckets = lookup_buckets(now, self.settings)
        plan: list[list[int]] = []
        for shard, positions in self._keys.by_shard(digests).items():
            slots: dict[int, int] = {}
            slot_of_each = bytes(slots.setdefault(self._keys.part_of(digests[p]), len(slots))
                                 for p in positions)
            keys = self._keys.done(shard, reversed(buckets), slots)
            pipe.execute_command("EVAL", _FIND_DIGESTS, len(keys), *keys,
                                 b"".join([digests[p] for p in positions]), DIGEST_BYTES,
                                 len(buckets), slot_of_each)
            plan.append(positions)
        return plan

    @staticmethod
    def _answers(plan: list[list[int]], replies: Sequence[Any], asked: list[int],
                 size: int) -> list[bool]:
        found = [False] * size
        for positions, reply in zip(plan, replies, strict=True):
            for position, flag in zip(positions, reply, strict=True):
                if flag == 49:  # b"1"
                    found[asked[position]] = True
        return found

    def _record(self, ids: Sequence[str]) -> None:
        raw = ids_bytes(ids)
        digests = id_digests(raw)
        keys = bloom_keys(raw)
        with self._lock:
            client, now = self._ready()
            self._filter.add_own(keys)
        bucket = bucket_of(now, self.settings)
        expire_at_ms = int(bucket_expires_at(bucket, self.settings) * 1000)
        pipe = client.pipeline(transaction=False)
        for shard, parts in self._keys.by_shard_and_part(digests).items():
            pipe.execute_command("EVAL", _APPEND_DONE_MARKS, len(parts),
                                 *self._keys.done(shard, [bucket], parts), expire_at_ms,
                                 *[b"".join(group) for group in parts.values()])
        self._filter.record_log.queue_append(pipe, keys)
        replies = pipe.execute()
        with self._lock:
            self._roundtrips += 1
            self._filter.recorded(parse_id(replies[-GroupLog.APPEND_REPLIES]))
            self._filter.maintain(client, now)

    def _ready(self) -> tuple[RedisClient, float]:
        if self._client is None:
            assert self._url is not None
            self._client = connect(self._url)
        if not self._filter.started:
            self._filter.start(self._client)
        now = self._filter.now()
        self._filter.rotate(now)
        return self._client, now

    def _execute(self, pipe: Any) -> list[Any]:
        self._roundtrips += 1
        return list(pipe.execute())
