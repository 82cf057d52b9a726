"""One member's knowledge of what its whole group recorded: the Bloom filter, its position in
the group's record log, whether it can be trusted, and the Redis clock estimate. Why this
keeps the filter from ever letting a duplicate through is argued in ``consumer.dedup``.

Invariant while trusted: the filter holds the key of every id in log entries up to
``position`` and of every id this member recorded. Reads of the log extend it; a gap in the log
(trimmed past ``position``) breaks it, and the filter is then distrusted until it is rebuilt
from a snapshot newer than the trim, or until a full retention period has passed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from .bloom import SnapshotMismatch, WindowedBloom
from .dedup_log import ZERO, GroupLog, StreamId, parse_id
from .dedup_settings import DedupSettings
from .redis_breaker import REDIS_FAILURES
from .redis_conn import RedisClient
from .redis_keys import GroupKeys

log = logging.getLogger("consumer.dedup")


class GroupFilter:
    def __init__(self, settings: DedupSettings, keys: GroupKeys,
                 clock: Callable[[], float]) -> None:
        self.settings = settings
        self.record_log = GroupLog(keys, os.urandom(8), int(settings.retention_s * 1000),
                            settings.log_read_count)
        self.roundtrips = 0
        self._keys = keys
        self._clock = clock
        self._clock_offset_s = 0.0
        self._bloom: WindowedBloom | None = None
        self._position: StreamId = ZERO
        self._trimmed_below: StreamId = ZERO
        self._distrust_until: float | None = None   # None: trusted
        # our log entries that a read passed before their record returned, and the last
        # entry of ours whose record returned
        self._own_passed: set[StreamId] = set()
        self._own_recorded: StreamId = ZERO
        self._next_maintenance = 0.0
        self._snapshot_turn_ms = max(1, int(settings.snapshot_interval_s * 1000))

    @property
    def started(self) -> bool:
        return self._bloom is not None

    @property
    def trusted(self) -> bool:
        return self._distrust_until is None

    @property
    def position(self) -> StreamId:
        return self._position

    def now(self) -> float:
        """Redis's clock, as estimated from TIME."""
        return self._clock() + self._clock_offset_s

    def start(self, client: RedisClient) -> None:
        """Reads the group's state; a Redis error leaves the filter unstarted (not half-built),
        so the next call starts it again."""
        s = self.settings
        self._sync_clock(client)
        trimmed = client.get(self._keys.trimmed)
        self.roundtrips += 1
        now = self.now()
        trimmed_below = parse_id(trimmed) if isinstance(trimmed, bytes) else ZERO
        bloom = WindowedBloom(s.bloom_capacity, s.bloom_error_rate, s.retention_s, now)
        position = trimmed_below
        snapshot = self._fetch_snapshot(client, trimmed_below) if trimmed_below != ZERO else None
        if snapshot is not None:
            bloom.absorb(snapshot[1])
            position = max(position, snapshot[0])
        self._bloom, self._position, self._trimmed_below = bloom, position, trimmed_below
        if trimmed_below != ZERO and snapshot is None:
            self._distrust(now, "no snapshot covers the trimmed part of the record log")
        self._next_maintenance = now + s.snapshot_interval_s

    def rotate(self, now: float) -> None:
        assert self._bloom is not None
        self._bloom.rotate(now)
        if self._distrust_until is not None and now >= self._distrust_until:
            log.info("dedup: the Bloom filter of %r is trusted again (a window has passed)",
                     self.settings.group)
            self._distrust_until = None

    def maybe_flags(self, keys: Sequence[int]) -> list[bool]:
        """Per key: False = surely never recorded; all True while distrusted."""
        assert self._bloom is not None
        if not self.trusted:
            return [True] * len(keys)
        return self._bloom.maybe_flags(keys)

    def absorb(self, replies: Sequence[Any], learned: set[int], now: float) -> bool:
        """Applies one read of the log (``GroupLog.queue_read``'s replies), adding the other
        members' keys to the filter and to ``learned``; True when more entries may follow."""
        assert self._bloom is not None
        tail = self.record_log.parse_read(replies)
        self._trimmed_below = max(self._trimmed_below, tail.trimmed_below)
        if tail.trimmed_below > self._position:
            self._distrust(now, "the record log was trimmed past this member's position")
        self._bloom.add(tail.keys)
        learned.update(tail.keys)
        self._own_passed.update(i for i in tail.own if i > self._own_recorded)
        if tail.last is not None and tail.last > self._position:
            self._position = tail.last
        return tail.more

    def read_more(self, client: RedisClient, learned: set[int], now: float) -> bool:
        pipe = client.pipeline(transaction=False)
        self.record_log.queue_read(pipe, self._position)
        self.roundtrips += 1
        return self.absorb(pipe.execute(), learned, now)

    def add_own(self, keys: Sequence[int]) -> None:
        """Keys this member is about to record (before the round trip, see ``dedup``)."""
        assert self._bloom is not None
        self._bloom.add(keys)

    def recorded(self, appended: StreamId) -> None:
        """This member's record was appended to the log as the entry ``appended``."""
        self._own_recorded = max(self._own_recorded, appended)
        if self._own_passed:
            passed = appended in self._own_passed
            # earlier ones left here are entries whose record failed after its append
            self._own_passed = {i for i in self._own_passed if i > self._own_recorded}
            if passed:
                return   # a lookup read the log past it while the record's round trip ran
        if appended <= self._position:
            # The log went back in time (a failover lost entries this member had read): read
            # it again from the start; a trim since shows up as a gap and is handled as one.
            log.warning("dedup: the record log of %r went back before this member's position",
                        self.settings.group)
            self._position = ZERO
            self._own_recorded = appended

    def maintain(self, client: RedisClient, now: float) -> None:
        """Once per snapshot interval: refresh the clock estimate, then either write a snapshot
        (one member of the group per interval) or, while distrusted, rebuild from one. Failures
        are only logged: the answer of the call that got here is already right."""
        s = self.settings
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + s.snapshot_interval_s
        assert self._bloom is not None
        try:
            self._sync_clock(client)
            if not self.trusted:
                self._rebuild(client)
            elif self.record_log.claim_snapshot_turn(client, self._snapshot_turn_ms):
                self.roundtrips += 2
                self.record_log.write_snapshot(client, s.fingerprint, self._position,
                                        self._bloom.to_bytes())
            else:
                self.roundtrips += 1
        except REDIS_FAILURES as exc:
            log.warning("dedup: snapshot maintenance of %r failed: %s", s.group, exc)

    def _fetch_snapshot(self, client: RedisClient,
                        trimmed_below: StreamId) -> tuple[StreamId, WindowedBloom] | None:
        """The group's snapshot if it covers everything the log may have lost."""
        s = self.settings
        self.roundtrips += 1
        snapshot = self.record_log.load_snapshot(client, s.fingerprint)
        if snapshot is None or snapshot[0] < trimmed_below:
            return None
        position, blob = snapshot
        try:
            return position, WindowedBloom.from_bytes(blob, s.bloom_capacity,
                                                      s.bloom_error_rate, s.retention_s)
        except SnapshotMismatch as exc:
            log.warning("dedup: ignoring the Bloom snapshot of %r: %s", s.group, exc)
            return None

    def _rebuild(self, client: RedisClient) -> None:
        assert self._bloom is not None
        snapshot = self._fetch_snapshot(client, self._trimmed_below)
        if snapshot is None:
            return
        self._bloom.absorb(snapshot[1])
        self._position = max(self._position, snapshot[0])
        self._distrust_until = None
        log.info("dedup: the Bloom filter of %r is rebuilt from a snapshot", self.settings.group)

    def _distrust(self, now: float, why: str) -> None:
        if self._distrust_until is None:
            log.warning("dedup: %s; every id of %r goes to Redis until the filter is rebuilt",
                        why, self.settings.group)
        self._distrust_until = now + self.settings.retention_s
        self._next_maintenance = now       # try a snapshot at the end of this call

    def _sync_clock(self, client: RedisClient) -> None:
        # TIME on its own: a cluster pipeline refuses keyless commands
        sent_at = self._clock()
        seconds, micros = client.time()
        self.roundtrips += 1
        self._clock_offset_s = seconds + micros / 1e6 - (sent_at + self._clock()) / 2
