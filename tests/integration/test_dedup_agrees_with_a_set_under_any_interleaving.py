"""Property: whatever the interleaving of seen/record calls by two members of a group sharing
one Redis, with members restarting (new instances loading snapshots), snapshots written and
the record log trimmed after nearly every call, and snapshots lost, the store answers exactly
like a set of recorded ids: never an unrecorded id as seen, never a recorded one as unseen.
A tiny, error-prone Bloom filter and short log reads drive every path (false positives,
rebuilds, distrust, multi-read tails)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consumer.dedup import DedupStore
from consumer.dedup_settings import DedupSettings

pytestmark = pytest.mark.integration

IDS = st.sampled_from([f"id-{i}" for i in range(16)])
BATCH = st.lists(IDS, min_size=1, max_size=8)
MEMBER = st.integers(0, 1)
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("seen"), MEMBER, BATCH),
    st.tuples(st.just("record"), MEMBER, BATCH),
    # one member works alone for a while: its snapshots trim the log past the other member
    st.tuples(st.just("burst"), MEMBER, BATCH),
    st.tuples(st.just("restart"), MEMBER, st.just([])),
    st.tuples(st.just("lose snapshot"), st.just(0), st.just([])),
), max_size=30)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
@example(operations=[("seen", 1, ["id-0"]), ("burst", 0, [f"id-{i}" for i in range(1, 9)]),
                     ("seen", 1, [f"id-{i}" for i in range(1, 10)])])
def test_two_members_and_restarts_answer_like_a_set(redis_url, operations):
    # two parts: each done-marks string holds several of the ids, so lookups search among them
    dedup = DedupSettings(group=f"model-{uuid.uuid4().hex[:10]}", bloom_capacity=40,
                          bloom_error_rate=0.2, snapshot_interval_s=0.001, log_read_count=2,
                          done_parts=2)
    client = redis.Redis.from_url(redis_url)
    members = [DedupStore(client, dedup), DedupStore(client, dedup)]
    recorded: set[str] = set()
    for operation, who, batch in operations:
        if operation == "seen":
            assert members[who].seen(batch) == [i in recorded for i in batch]
        elif operation == "record":
            members[who].record(batch)
            recorded.update(batch)
        elif operation == "burst":
            for part in (batch[0::4], batch[1::4], batch[2::4], batch[3::4]):
                if part:
                    members[who].record(part)
                    recorded.update(part)
                    members[who].seen(part)
                    time.sleep(0.002)                    # the snapshot lock expires
        elif operation == "restart":
            members[who] = DedupStore(client, dedup)
        else:
            client.delete(f"consumer:{{{dedup.group}}}:dedup:snapshot:{dedup.fingerprint}")
    every_id = sorted(recorded | {"id-never"})
    assert DedupStore(client, dedup).seen(every_id) == [i in recorded for i in every_id]
    client.close()
