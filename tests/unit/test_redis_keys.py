"""Key names: hash tags keep every batched command in one cluster slot; the id hashes are
fixed-size and the same in every process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis.crc import key_slot

from consumer.errors import ConfigError
from consumer.redis_keys import DIGEST_BYTES, GroupKeys, bloom_key, id_bytes, id_digest


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_one_shard_puts_every_key_of_a_group_in_one_slot():
    keys = GroupKeys("orders-service")
    names = [*(n.decode() for n in keys.done(0, [1, 99999], [0, 255])), keys.log,
             keys.trimmed, keys.snapshot("c1-e0.1"), keys.snapshot_lock]
    assert {slot(name) for name in names} == {slot(keys.log)}
    assert all(name.startswith("consumer:{orders-service}:") for name in names)


def test_done_names_come_part_after_part_each_in_the_buckets_order_given():
    # the lookup script finds a part's string of a bucket by its place in this list
    names = GroupKeys("orders").done(0, [7, 6], [3, 9])
    assert [n.decode().rsplit(":done:", 1)[1] for n in names] == ["7:3", "6:3", "7:9", "6:9"]


def test_shards_spread_ids_over_slots_and_keep_each_shards_keys_together():
    keys = GroupKeys("orders", shards=8)
    digests = [id_digest(f"id-{i}".encode()) for i in range(2000)]
    shards = {keys.shard_of(d) for d in digests}
    assert shards == set(range(8))
    for shard in range(8):
        assert len({slot(name.decode()) for name in keys.done(shard, [5, 6], [0, 200])}) == 1
    assert len({slot(keys.done(shard, [5], [1])[0].decode()) for shard in range(8)}) == 8


def test_by_shard_groups_positions_and_loses_none():
    keys = GroupKeys("orders", shards=4)
    digests = [id_digest(f"id-{i}".encode()) for i in range(100)]
    groups = keys.by_shard(digests)
    assert sorted(p for positions in groups.values() for p in positions) == list(range(100))
    for shard, positions in groups.items():
        assert all(keys.shard_of(digests[p]) == shard for p in positions)


@pytest.mark.parametrize("shards, parts", [(1, 256), (1, 1), (3, 16)])
def test_by_shard_and_part_puts_each_digest_in_its_string_and_loses_none(shards, parts):
    keys = GroupKeys("orders", shards=shards, parts=parts)
    digests = [id_digest(f"id-{i}".encode()) for i in range(3000)]
    groups = keys.by_shard_and_part(digests)
    assert sorted(d for parts in groups.values() for g in parts.values() for d in g) == sorted(
        digests)
    assert sum(len(parts) for parts in groups.values()) == shards * parts
    for shard, of_shard in groups.items():
        for part, group in of_shard.items():
            assert {(keys.shard_of(d), keys.part_of(d)) for d in group} == {(shard, part)}


def test_digests_have_a_fixed_size_whatever_the_id_length():
    assert {len(id_digest(b"x" * n)) for n in (0, 1, 36, 10_000)} == {DIGEST_BYTES}
    assert id_digest(b"a") != id_digest(b"b")


def test_any_python_string_encodes_even_lone_surrogates():
    assert id_bytes("caf\udce9") != id_bytes("cafe")
    assert id_bytes("ordre-é") == "ordre-é".encode()


def test_hashes_are_the_same_in_another_process_with_another_hash_seed():
    code = ("from consumer.redis_keys import bloom_key, id_digest;"
            "print(bloom_key(b'order-17'), id_digest(b'order-17').hex())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={"PYTHONHASHSEED": seed}, check=True).stdout.split()[0]
               for seed in ("1", "2")}
    assert outputs == {str(bloom_key(b"order-17"))}


@pytest.mark.parametrize("group, shards, parts",
                         [("", 1, 1), ("g", 0, 1), ("g", 5000, 1), ("g", 1, 0), ("g", 1, 24),
                          ("g", 1, 512)])
def test_bad_groups_shard_and_part_counts_are_refused(group, shards, parts):
    with pytest.raises(ConfigError):
        GroupKeys(group, shards, parts)
