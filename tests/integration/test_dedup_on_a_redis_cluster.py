"""The same dedup scenario on a 3-node Redis Cluster: two members and a restarted one agree on
what was recorded, a group's ids spread over the nodes when sharded, and attempt counts work
there too (every batched command stays in one slot, or the cluster would refuse it)."""

from __future__ import annotations

import time

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore
from consumer.ledger import AttemptLedger, pack_offsets
from consumer.redis_breaker import RedisBreaker
from consumer.redis_conn import connect
from tests.support.redis_servers import redis_cluster

pytestmark = pytest.mark.integration


def test_dedup_and_attempts_on_a_three_node_cluster(tmp_path, unique):
    with redis_cluster(tmp_path) as nodes:
        url = "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in nodes[:2])
        settings = DedupSettings(group=f"cluster-{unique}", shards=4, bloom_capacity=20_000,
                                 snapshot_interval_s=0.05)
        first, second = DedupStore(url, settings), DedupStore(url, settings)
        recorded: list[str] = []
        for batch in range(5):
            ids = [f"b{batch}-{i}" for i in range(300)]
            assert first.seen(ids) == [False] * 300
            first.record(ids)
            recorded += ids
            time.sleep(0.06)
        fresh = [f"fresh-{i}" for i in range(300)]
        assert second.seen(recorded + fresh) == [True] * len(recorded) + [False] * 300
        second.record(fresh)
        assert first.seen(fresh) == [True] * 300

        restarted = DedupStore(url, settings)
        assert restarted.seen(recorded + fresh) == [True] * (len(recorded) + 300)
        assert restarted.filter_trusted

        holding = [n for n in nodes if redis.Redis(port=n.port).dbsize() > 0]
        assert len(holding) >= 2, "a sharded group's keys all landed on one node"

        client = connect(url)
        ledger = AttemptLedger(client, settings.group, "orders", RedisBreaker())
        ledger.starting({0: pack_offsets([40]), 5: pack_offsets([3])})
        ledger.starting({0: pack_offsets([41])})
        assert [ledger.charge(0, 40), ledger.charge(0, 40), ledger.charge(5, 3)] == [1, 2, 1]
        assert ledger.load(0) == ({40: 2}, {40, 41}) and ledger.load(5) == ({3: 1}, {3})
        ledger.settled({0: [pack_offsets([40])]}, {0: [40]})
        ledger.release(5)
        assert ledger.load(0) == ({}, {41}) and ledger.load(5) == ({3: 1}, set())
        for store in (first, second, restarted):
            store.close()
        client.close()
