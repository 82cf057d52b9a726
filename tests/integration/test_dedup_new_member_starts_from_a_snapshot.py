"""A member that starts after the record log was trimmed loads the group's Bloom snapshot and
trusts its filter at once: recorded ids are duplicates, fresh ids need no Redis read."""

from __future__ import annotations

import time

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore

pytestmark = pytest.mark.integration


def test_a_restarted_member_loads_the_snapshot_and_keeps_every_duplicate(redis_url, unique):
    settings = DedupSettings(group=f"snapshot-{unique}", bloom_capacity=20_000,
                             snapshot_interval_s=0.05)
    client = redis.Redis.from_url(redis_url)
    log_key = f"consumer:{{{settings.group}}}:dedup:log"
    member = DedupStore(redis_url, settings)
    recorded: list[str] = []
    for batch in range(8):
        ids = [f"b{batch}-{i}" for i in range(200)]
        member.seen(ids)
        member.record(ids)
        recorded += ids
        time.sleep(0.06)                         # let a snapshot (and a trim) happen
    member.close()
    assert client.exists(f"consumer:{{{settings.group}}}:dedup:trimmed")
    assert client.xlen(log_key) < 8, "the log was never trimmed: the test proves nothing"

    restarted = DedupStore(redis_url, settings)
    fresh = [f"new-{i}" for i in range(1000)]
    assert restarted.seen(recorded) == [True] * len(recorded)
    assert restarted.filter_trusted
    before = restarted.counters
    assert restarted.seen(fresh) == [False] * 1000
    assert restarted.counters.bloom_negative - before.bloom_negative >= 980
    restarted.close()

