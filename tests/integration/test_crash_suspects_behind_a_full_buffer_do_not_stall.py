"""A process died with messages in flight far into one partition (its commit held back by a
slow message), while the other partitions have a backlog larger than the in-memory bound. The
next owner runs those suspects first and holds the rest meanwhile; the bound must not pause the
partition the suspects are still to be fetched from, or the held work waits for ever."""

import pytest

from consumer.ledger import AttemptLedger, pack_offsets
from consumer.redis_breaker import RedisBreaker
from consumer.redis_conn import connect
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PER_PARTITION = 600
SUSPECTS = [450, 451, 452]


def test_suspects_far_into_a_partition_run_although_the_buffer_is_full(
        bootstrap, redis_url, unique, tmp_path):
    topic, group = f"suspects-{unique}", f"suspects-{unique}"
    create_topic(bootstrap, topic, 3)
    records = [(f"k{i}".encode(), b"{}", {"message-id": f"p{p}-{i}".encode()})
               for p in range(3) for i in range(PER_PARTITION)]
    ends = produce(bootstrap, topic, records, partitioner=lambda index: index // PER_PARTITION)
    # What the dead process left in Redis: a batch of partition 0 in flight, never settled.
    AttemptLedger(connect(redis_url), group, topic, RedisBreaker()).starting(
        {0: pack_offsets(SUSPECTS)})

    record = tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        extra=["--value-format", "json", "--redis", redis_url,
                               "--max-buffered", "200", "--batch-size", "100"])
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends or
                 proc.poll() is not None, 60, "every partition committed to its end")
        assert proc.poll() is None, "the consumer exited"
    finally:
        assert stop(proc) == 0

    starts = [e for e in events(record) if e.kind == "start"]
    assert [e.message_id for e in starts[:3]] == [f"p0-{o}" for o in SUSPECTS], \
        "the suspects run first, one at a time"
    assert {e.message_id for e in starts} == \
        {f"p{p}-{i}" for p in range(3) for i in range(PER_PARTITION)}
    assert "partition 0 was not let go cleanly: 3 message(s)" in \
        (tmp_path / "consumer.log").read_text()
