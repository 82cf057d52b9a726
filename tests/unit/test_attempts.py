"""The attempt store's edges; counting against Redis is in
tests/integration/test_attempt_counts_outlive_the_process.py and the cluster test."""

from __future__ import annotations

import pytest
import redis

from consumer.attempts import AttemptStore
from consumer.errors import ConfigError, RedisCircuitOpen, RedisUnavailable
from consumer.redis_breaker import BreakerSettings, RedisBreaker
from consumer.services import free_port


class Exploding:
    """A client whose every use that would reach Redis is a test failure."""

    def get_encoder(self):
        return redis.Redis().get_encoder()

    def __getattr__(self, name):
        raise AssertionError(f"Redis was used: {name}")


def test_empty_batches_do_not_touch_redis():
    attempts = AttemptStore(Exploding(), "g")            # type: ignore[arg-type]
    assert attempts.incr([]) == []
    assert attempts.get([]) == []
    attempts.clear([])


def test_a_down_redis_is_redis_unavailable_then_fails_fast():
    breaker = RedisBreaker("redis", BreakerSettings(failure_threshold=1, open_s=30))
    attempts = AttemptStore(f"redis://127.0.0.1:{free_port()}/0", "g", breaker=breaker)
    with pytest.raises(RedisUnavailable):
        attempts.incr(["a"])
    for call in (attempts.incr, attempts.get, attempts.clear):
        with pytest.raises(RedisCircuitOpen):
            call(["a"])


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        AttemptStore("redis://127.0.0.1:1/0", "g", ttl_s=0)
    with pytest.raises(ConfigError):
        AttemptStore("redis://127.0.0.1:1/0", "")
