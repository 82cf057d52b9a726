"""Attempt counts and running offsets live in Redis: a new ledger (a restarted process, or the
next owner of a partition) reads back what the previous one wrote, and the keys expire."""

import pytest
import redis

from consumer.ledger import AttemptLedger, pack_offsets
from consumer.redis_breaker import RedisBreaker
from consumer.redis_conn import connect

pytestmark = pytest.mark.integration


def test_counts_and_running_offsets_survive_a_restart(redis_url, unique):
    group = f"ledger-{unique}"
    crashed = AttemptLedger(connect(redis_url), group, "orders", RedisBreaker())
    crashed.starting({0: pack_offsets([100]), 1: pack_offsets([7])})
    crashed.starting({0: pack_offsets([101, 103])})
    assert crashed.charge(0, 101) == 1
    assert crashed.charge(0, 101) == 2
    crashed.settled({0: [pack_offsets([100])]}, {})

    restarted = AttemptLedger(connect(redis_url), group, "orders", RedisBreaker())
    assert restarted.load(0) == ({101: 2}, {101, 103})
    assert restarted.load(1) == ({}, {7})
    assert restarted.load(2) == ({}, set())
    restarted.settled({0: [pack_offsets([101, 103])]}, {0: [101]})
    restarted.release(1)              # drained and committed: nothing in doubt
    assert restarted.load(0) == ({}, set()) and restarted.load(1) == ({}, set())

    other_group = AttemptLedger(connect(redis_url), f"other-{unique}", "orders", RedisBreaker())
    assert other_group.load(0) == ({}, set())
    restarted.charge(3, 1)
    ttl_ms = redis.Redis.from_url(redis_url).pttl(f"consumer:{{{group}}}:attempts:orders:3")
    assert 0 < ttl_ms <= 7 * 86_400_000
