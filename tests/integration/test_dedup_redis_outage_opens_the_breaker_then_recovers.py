"""Redis stops mid-run: dedup calls raise RedisUnavailable, the breaker opens and fails fast
without touching the network, and once Redis is back the next probe closes it and dedup goes
on with nothing recorded before the outage forgotten."""

from __future__ import annotations

import time

import pytest

from consumer.dedup import DedupSettings, DedupStore
from consumer.errors import RedisCircuitOpen, RedisUnavailable
from consumer.redis_breaker import BreakerSettings, RedisBreaker
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.integration


def test_redis_down_then_back(tmp_path, unique):
    # append-only file: what Redis acknowledged survives its restart, as in production
    server = RedisServer(tmp_path / "redis", None, "--appendonly", "yes",
                         "--appendfsync", "always")
    server.start()
    breaker = RedisBreaker("redis", BreakerSettings(failure_threshold=2, open_s=0.3,
                                                    max_open_s=1.0))
    store = DedupStore(server.url, DedupSettings(group=f"outage-{unique}"), breaker=breaker)
    try:
        before = [f"before-{i}" for i in range(100)]
        store.seen(before)
        store.record(before)

        server.stop()
        for _ in range(2):
            with pytest.raises(RedisUnavailable) as caught:
                store.seen(["during"])
            assert not isinstance(caught.value, RedisCircuitOpen)
        assert breaker.state == "open" and not store.available()
        with pytest.raises(RedisCircuitOpen):
            store.record(["during"])

        server.start()
        deadline = time.monotonic() + 10
        while True:
            while not store.available():
                time.sleep(0.05)
            try:
                answer = store.seen([*before, "after"])
                break
            except RedisUnavailable:
                assert time.monotonic() < deadline, "dedup never recovered"
        assert answer == [True] * 100 + [False]
        assert breaker.state == "closed"
        store.record(["after"])
        assert store.seen(["after"]) == [True]
    finally:
        store.close()
        server.stop()
