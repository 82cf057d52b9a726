"""A member that fell so far behind that the record log was trimmed past its position cannot
trust its Bloom filter: it must still report every duplicate (by asking Redis for every id),
and it trusts its filter again once it rebuilt it from a snapshot."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore

pytestmark = pytest.mark.integration


def trim_past(idle: DedupStore, settings: DedupSettings, redis_url: str) -> list[str]:
    """While ``idle`` makes no call, another member records enough, slowly enough, for two
    snapshots to trim the log past ``idle``'s position. Returns what it recorded."""
    busy = DedupStore(redis_url, settings)
    recorded: list[str] = []
    for batch in range(6):
        ids = [f"{settings.group}-b{batch}-{i}" for i in range(100)]
        busy.seen(ids)
        busy.record(ids)
        recorded += ids
        time.sleep(0.06)
    busy.close()
    return recorded


def settings_for(group: str) -> DedupSettings:
    return DedupSettings(group=group, bloom_capacity=10_000, snapshot_interval_s=0.05)


def test_without_a_usable_snapshot_every_id_goes_to_redis_and_answers_stay_right(
        redis_url, unique):
    settings = settings_for(f"trimmed-{unique}")
    idle = DedupStore(redis_url, settings)
    assert idle.seen(["warm-up"]) == [False]
    recorded = trim_past(idle, settings, redis_url)
    # the snapshot is lost (or was written by members with other Bloom settings)
    redis.Redis.from_url(redis_url).delete(
        f"consumer:{{{settings.group}}}:dedup:snapshot:{settings.fingerprint}")

    fresh = [f"fresh-{i}" for i in range(200)]
    before = idle.counters
    assert idle.seen(recorded + fresh) == [True] * len(recorded) + [False] * len(fresh)
    assert not idle.filter_trusted
    assert idle.seen(fresh) == [False] * len(fresh)
    after = idle.counters
    assert after.bloom_negative == before.bloom_negative        # nothing answered by the filter
    assert after.redis_miss - before.redis_miss == 2 * len(fresh)
    idle.close()


def test_with_a_snapshot_the_member_rebuilds_and_trusts_its_filter_again(
        redis_url, unique, caplog):
    settings = settings_for(f"rebuilt-{unique}")
    idle = DedupStore(redis_url, settings)
    assert idle.seen(["warm-up"]) == [False]
    recorded = trim_past(idle, settings, redis_url)

    with caplog.at_level(logging.WARNING, logger="consumer.dedup"):
        assert idle.seen(recorded) == [True] * len(recorded)
    assert "trimmed past this member's position" in caplog.text
    assert idle.filter_trusted                                   # rebuilt in the same call
    fresh = [f"fresh-{i}" for i in range(500)]
    before = idle.counters
    assert idle.seen(fresh) == [False] * len(fresh)
    assert idle.counters.bloom_negative - before.bloom_negative >= 490
    assert idle.seen(recorded) == [True] * len(recorded)
    idle.close()
