"""A member whose start failed half way (Redis errored while it loaded the group's snapshot)
must not go on with a half-built filter it trusts: the next call starts it again, snapshot
included, and every duplicate is still reported."""

from __future__ import annotations

import time

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore
from consumer.errors import RedisUnavailable

pytestmark = pytest.mark.integration


def test_a_start_that_failed_half_way_is_redone_not_trusted(redis_url, unique):
    settings = DedupSettings(group=f"halfway-{unique}", bloom_capacity=20_000,
                             snapshot_interval_s=0.05)
    client = redis.Redis.from_url(redis_url)
    member = DedupStore(redis_url, settings)
    recorded: list[str] = []
    for batch in range(6):
        ids = [f"b{batch}-{i}" for i in range(100)]
        member.seen(ids)
        member.record(ids)
        recorded += ids
        time.sleep(0.06)
    member.close()
    snapshot = f"consumer:{{{settings.group}}}:dedup:snapshot:{settings.fingerprint}"
    client.rename(snapshot, snapshot + ":aside")
    client.set(snapshot, b"not a hash")               # reading it fails with WRONGTYPE

    starting = DedupStore(redis_url, settings)
    with pytest.raises(RedisUnavailable):
        starting.seen(recorded)
    client.delete(snapshot)
    client.rename(snapshot + ":aside", snapshot)
    assert starting.seen(recorded) == [True] * len(recorded)
    assert starting.filter_trusted
    starting.close()
