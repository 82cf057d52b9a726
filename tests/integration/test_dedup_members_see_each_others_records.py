"""Two members of a group, one of them another process: what either recorded is a duplicate
for the other (a partition that moves between them lets no duplicate through), and the
other's Bloom filter learned it from the record log, so fresh ids still skip Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.dedup import DedupSettings, DedupStore

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

RECORD_IN_ANOTHER_PROCESS = """
import sys
from consumer.dedup import DedupSettings, DedupStore
store = DedupStore(sys.argv[1], DedupSettings(group=sys.argv[2], bloom_capacity=10_000))
store.seen([f"other-{i}" for i in range(300)])
store.record([f"other-{i}" for i in range(300)])
store.close()
"""


def test_a_record_by_one_member_is_a_duplicate_for_the_other(redis_url, unique):
    settings = DedupSettings(group=f"members-{unique}", bloom_capacity=10_000)
    first, second = DedupStore(redis_url, settings), DedupStore(redis_url, settings)
    ids = [f"order-{i}" for i in range(1000)]
    assert first.seen(ids) == [False] * 1000
    assert second.seen(ids) == [False] * 1000
    first.record(ids[:500])                 # partition 0's messages, done by the first member

    before = second.counters
    assert second.seen(ids) == [True] * 500 + [False] * 500
    after = second.counters
    assert after.redis_hit - before.redis_hit == 500
    # the 500 fresh ids were answered by the filter (a few false positives may go to Redis)
    assert after.bloom_negative - before.bloom_negative >= 490

    second.record(ids[500:600])
    assert first.seen(ids) == [True] * 600 + [False] * 400
    first.close()
    second.close()


def test_a_member_in_another_process_with_another_hash_seed_is_heard(redis_url, unique):
    group = f"process-{unique}"
    here = DedupStore(redis_url, DedupSettings(group=group, bloom_capacity=10_000))
    ids = [f"other-{i}" for i in range(300)]
    assert here.seen(ids) == [False] * 300
    subprocess.run([sys.executable, "-c", RECORD_IN_ANOTHER_PROCESS, redis_url, group],
                   check=True, cwd=REPO, timeout=60,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    before = here.counters
    assert here.seen(ids) == [True] * 300
    # the filter said "maybe" for all of them: it learned the other process's keys
    assert here.counters.redis_hit - before.redis_hit == 300
    here.close()
