"""Attempt counts live in Redis: a new store (a restarted process) sees what the crashed one
charged, counts expire on their own, and clearing one id leaves the others."""

from __future__ import annotations

import pytest
import redis

from consumer.attempts import AttemptStore
from consumer.redis_keys import GroupKeys, id_bytes, id_digest

pytestmark = pytest.mark.integration


def test_counts_survive_a_restart_expire_and_clear(redis_url, unique):
    group = f"attempts-{unique}"
    crashed = AttemptStore(redis_url, group, ttl_s=60)
    assert crashed.incr(["poison", "ok"]) == [1, 1]
    assert crashed.incr(["poison"]) == [2]
    crashed.close()

    restarted = AttemptStore(redis_url, group, ttl_s=60)
    assert restarted.incr(["poison"]) == [3]
    assert restarted.get(["poison", "ok", "never-seen"]) == [3, 1, 0]

    digest = id_digest(id_bytes("poison"))
    ttl_ms = redis.Redis.from_url(redis_url).pttl(GroupKeys(group).attempts(0, digest))
    assert 0 < ttl_ms <= 60_000

    restarted.clear(["poison"])
    assert restarted.get(["poison", "ok"]) == [0, 1]
    assert AttemptStore(redis_url, f"other-{unique}").get(["ok"]) == [0]
    assert restarted.incr([]) == [] and restarted.get([]) == []
    restarted.close()
