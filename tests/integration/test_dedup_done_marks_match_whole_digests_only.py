"""Done marks are digests appended one after another to a string: a lookup finds an id only
where its whole digest starts at a digest boundary, never in the bytes that straddle two, and
answers exactly whether it searches a string for a few digests or indexes it for many."""

from __future__ import annotations

import time

import pytest
import redis

from consumer.dedup import DedupStore
from consumer.dedup_settings import DedupSettings, bucket_of
from consumer.redis_keys import DIGEST_BYTES, GroupKeys, id_digest

pytestmark = pytest.mark.integration


def test_a_digest_straddling_two_marks_is_not_a_match(redis_url, unique):
    settings = DedupSettings(group=f"straddle-{unique}", bloom_capacity=10)
    client = redis.Redis.from_url(redis_url)
    keys = GroupKeys(settings.group, settings.shards, settings.done_parts)
    store = DedupStore(client, settings)
    store.record([f"filler-{i}" for i in range(1000)])     # the tiny filter says "maybe" to all
    assert store.seen(["order-1"]) == [False]
    assert store.counters.redis_miss == 1
    digest = id_digest(b"order-1")
    [string] = keys.done(0, [bucket_of(time.time(), settings)], [keys.part_of(digest)])
    half = DIGEST_BYTES // 2
    client.append(string, b"\x01" * half + digest + b"\x02" * half)
    assert store.seen(["order-1"]) == [False]
    client.append(string, digest)
    assert store.seen(["order-1"]) == [True]
    client.close()


@pytest.mark.parametrize("parts", [1, 256])
def test_lookups_of_many_ids_answer_exactly(redis_url, unique, parts):
    settings = DedupSettings(group=f"many-{unique}", bloom_capacity=10, done_parts=parts)
    client = redis.Redis.from_url(redis_url)
    recorded = [f"order-{i}" for i in range(0, 4000, 2)]
    writer = DedupStore(client, settings)
    for start in range(0, len(recorded), 500):
        writer.record(recorded[start:start + 500])
    asked = [f"order-{i}" for i in range(4000)]
    reader = DedupStore(client, settings)
    reader.seen(["order-0"])                # reads the log: the tiny filter says "maybe" to all
    before = reader.counters
    assert reader.seen(asked) == [i % 2 == 0 for i in range(4000)]
    assert reader.counters.redis_hit - before.redis_hit == 2000
    assert reader.counters.redis_miss - before.redis_miss == 2000
    client.close()
