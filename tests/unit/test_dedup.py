"""The dedup store's bucket arithmetic, settings and API edges; behaviour against Redis is in
tests/integration/test_dedup_*.py."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from consumer.config import Settings
from consumer.dedup import DedupCounters, DedupStore
from consumer.dedup_settings import DedupSettings, bucket_expires_at, bucket_of, lookup_buckets
from consumer.errors import ConfigError, RedisCircuitOpen, RedisUnavailable
from consumer.redis_breaker import BreakerSettings, RedisBreaker

SETTINGS = DedupSettings(group="g", window_s=3600, buckets_per_window=12, clock_skew_s=1)


@given(recorded=st.floats(0, 10**9), age=st.floats(0, 3599.999),
       skew=st.floats(-1, 1))
def test_a_lookup_covers_the_bucket_of_any_id_recorded_within_the_window(recorded, age, skew):
    # recorded by a member whose clock estimate is `skew` off from the one looking up
    bucket = bucket_of(recorded + skew, SETTINGS)
    assert bucket in lookup_buckets(recorded + age, SETTINGS)


@given(recorded=st.floats(0, 10**9))
def test_a_bucket_outlives_every_id_in_it_by_the_window(recorded):
    bucket = bucket_of(recorded, SETTINGS)
    assert bucket_expires_at(bucket, SETTINGS) >= recorded + SETTINGS.window_s + 1


def test_a_lookup_asks_a_bounded_number_of_buckets():
    assert len(lookup_buckets(1_700_000_000.0, SETTINGS)) <= SETTINGS.buckets_per_window + 2


@pytest.mark.parametrize("bad", [
    {"window_s": 0}, {"buckets_per_window": 0}, {"buckets_per_window": 5000},
    {"bloom_capacity": 0}, {"bloom_error_rate": 1.0}, {"snapshot_interval_s": 0},
    {"clock_skew_s": -1}, {"shards": 0}, {"group": ""}, {"log_read_count": 0},
])
def test_bad_settings_are_refused_at_construction(bad):
    with pytest.raises(ConfigError):
        DedupSettings(**{"group": "g", **bad})


def test_the_fingerprint_changes_with_the_filters_bit_layout_only():
    base = DedupSettings(group="g")
    assert base.fingerprint == DedupSettings(group="other", window_s=5).fingerprint
    assert base.fingerprint != DedupSettings(group="g", bloom_capacity=5).fingerprint
    assert base.fingerprint != DedupSettings(group="g", bloom_error_rate=0.01).fingerprint


def test_the_runtimes_group_window_and_capacity_make_the_dedup_settings():
    runtime = Settings(topic="orders", group="orders", handler="m:f", bootstrap="b:9092",
                       registry="http://r:8081", redis="redis://r:6379/0",
                       dedup_window_s=120.0,
                       dedup_capacity=5_000_000)
    settings = DedupSettings.of_runtime(runtime)
    assert (settings.group, settings.window_s, settings.bloom_capacity) == (
        "orders", 120.0, 5_000_000)


class Exploding:
    """A client whose every use that would reach Redis is a test failure."""

    def get_encoder(self):
        return redis.Redis().get_encoder()

    def __getattr__(self, name):
        raise AssertionError(f"Redis was used: {name}")


def test_empty_batches_do_not_touch_redis():
    store = DedupStore(Exploding(), SETTINGS)            # type: ignore[arg-type]
    assert store.seen([]) == []
    store.record([])
    assert store.counters == DedupCounters()


def test_an_open_breaker_fails_fast_without_touching_redis():
    breaker = RedisBreaker("redis", BreakerSettings(failure_threshold=1, open_s=30))
    store = DedupStore("redis://127.0.0.1:1/0", SETTINGS, breaker=breaker)
    with pytest.raises(RedisUnavailable) as first:
        store.seen(["a"])
    assert not isinstance(first.value, RedisCircuitOpen)
    assert not store.available() and store.retry_in_s() > 25
    store._client = Exploding()                          # type: ignore[assignment]
    with pytest.raises(RedisCircuitOpen):
        store.seen(["a"])
    with pytest.raises(RedisCircuitOpen):
        store.record(["a"])



def test_a_shared_client_that_decodes_replies_is_refused():
    with pytest.raises(ConfigError, match="decode"):
        DedupStore(redis.Redis(decode_responses=True), SETTINGS)
