"""A Bloom filter past its capacity lets many new ids through to Redis, where each costs a
search of the window's done marks: the store says so in the log, naming the setting to raise,
and says nothing while the filter is sized for the traffic."""

from __future__ import annotations

import logging

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore

pytestmark = pytest.mark.integration


def look_up_and_record_new_ids(redis_url: str, group: str, capacity: int) -> None:
    settings = DedupSettings(group=group, bloom_capacity=capacity, snapshot_interval_s=0.001)
    client = redis.Redis.from_url(redis_url)
    store = DedupStore(client, settings)
    for batch in range(5):
        ids = [f"order-{batch}-{i}" for i in range(2000)]
        assert store.seen(ids) == [False] * 2000
        store.record(ids)
    client.close()


def test_a_filter_past_its_capacity_is_reported(redis_url, unique, caplog):
    caplog.set_level(logging.WARNING, logger="consumer.dedup")
    look_up_and_record_new_ids(redis_url, f"small-{unique}", capacity=100)
    warnings = [r.getMessage() for r in caplog.records if "--dedup-capacity" in r.getMessage()]
    assert warnings and f"small-{unique}" in warnings[0] and "sized for 100 ids" in warnings[0]


def test_a_filter_sized_for_the_traffic_is_not(redis_url, unique, caplog):
    caplog.set_level(logging.WARNING, logger="consumer.dedup")
    look_up_and_record_new_ids(redis_url, f"sized-{unique}", capacity=100_000)
    assert not [r for r in caplog.records if "--dedup-capacity" in r.getMessage()]
