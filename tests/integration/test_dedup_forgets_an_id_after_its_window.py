"""A recorded id is a duplicate for the whole dedup window, then new again, and its done marks
in Redis are gone: memory does not grow with time."""

from __future__ import annotations

import time

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore

pytestmark = pytest.mark.integration


def test_an_id_is_a_duplicate_for_the_window_then_forgotten(redis_url, unique):
    settings = DedupSettings(group=f"window-{unique}", window_s=2.0, buckets_per_window=4,
                             clock_skew_s=0.1)
    store = DedupStore(redis_url, settings)
    store.record(["order-1"])
    recorded_at = time.monotonic()
    assert store.seen(["order-1", "order-2"]) == [True, False]

    latest = settings.window_s + settings.bucket_s + 2 * settings.clock_skew_s + 1.0
    while store.seen(["order-1"]) == [True]:
        assert time.monotonic() - recorded_at < latest, "the id outlived its window"
        time.sleep(0.1)
    assert time.monotonic() - recorded_at >= settings.window_s, "forgotten within the window"

    fresh = DedupStore(redis_url, settings)
    assert fresh.seen(["order-1"]) == [False]
    client = redis.Redis.from_url(redis_url)
    while client.keys(f"consumer:{{{settings.group}}}:dedup:done:*"):
        assert time.monotonic() - recorded_at < latest + settings.bucket_s, "sets never expired"
        time.sleep(0.1)
    store.close()
    fresh.close()
