"""10,000 ids each sent two or three times at different offsets: a plain, non-idempotent side
effect (appending a line) happens exactly once per id, and the dedup metrics count it."""

import random

import pytest

from consumer.services import free_port
from tests.support.duplicates import duplicated_stream
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.metrics import sample, scrape
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

IDS = 10_000


def test_each_id_has_one_effect(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"dups-{unique}", f"dups-{unique}"
    create_topic(bootstrap, topic, 4)
    seed = random.randrange(1 << 30)
    records = duplicated_stream(IDS, seed)
    ends = produce(bootstrap, topic, records)
    record, port = tmp_path / "record.txt", free_port()
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        extra=["--value-format", "json", "--redis", redis_url,
                               "--metrics-port", str(port)])
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 120, "the stream")

        def settled() -> float:
            text = scrape(port)
            return sum(sample(text, "consumer_messages_total", topic=topic, outcome=o) or 0
                       for o in ("processed", "duplicate"))

        wait_for(lambda: settled() == len(records), 10, "the metrics to catch up")
        text = scrape(port)
    finally:
        assert stop(proc) == 0
    done = [e.message_id for e in events(record) if e.kind == "done"]
    assert len(done) == len(set(done)) == IDS, f"an effect repeated or missing (seed {seed})"
    duplicates = sample(text, "consumer_messages_total", topic=topic, outcome="duplicate")
    assert duplicates == len(records) - IDS
    checks = {r: sample(text, "consumer_dedup_checks_total", result=r)
              for r in ("bloom_negative", "redis_hit", "redis_miss")}
    roundtrips = sample(text, "consumer_redis_roundtrips_total")
    print(f"{len(records)} records, dedup checks {checks}, {roundtrips:.0f} Redis round trips "
          f"({roundtrips / len(records):.4f} per message)")
    assert checks["bloom_negative"] > 0 and roundtrips > 0
