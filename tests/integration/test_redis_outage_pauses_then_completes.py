"""Redis stops for 20 s mid-run: consumption pauses (no handler call goes ahead without dedup),
then resumes by itself when Redis is back, and completes with one effect per id, nothing lost.
Redis runs with an append-only file, as a dedup store must: its done marks survive."""

import random
import time

import pytest

from consumer.services import free_port
from tests.support.duplicates import duplicated_stream
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.metrics import sample, scrape
from tests.support.redis_servers import RedisServer
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

IDS = 4000
OUTAGE_S = 20


def test_redis_outage_pauses_consumption_then_it_completes(bootstrap, unique, tmp_path):
    topic, group = f"redisout-{unique}", f"redisout-{unique}"
    create_topic(bootstrap, topic, 3)
    seed = random.randrange(1 << 30)
    ends = produce(bootstrap, topic, duplicated_stream(IDS, seed, cross_key_share=0))
    redis = RedisServer(tmp_path / "redis", None, "--appendonly", "yes",
                        "--appendfsync", "always")
    redis.start()
    record, port = tmp_path / "record.txt", free_port()
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        extra=["--value-format", "json", "--redis", redis.url,
                               "--concurrency", "4", "--metrics-port", str(port)],
                        env={"HANDLER_DELAY_S": "0.005"})

    def done() -> int:
        return sum(e.kind == "done" for e in events(record))

    try:
        wait_for(lambda: done() > 800, 60, f"work before the outage (seed {seed})")
        redis.stop()
        time.sleep(2)   # what was running when it went finishes (it cannot be recorded)
        before, paused = done(), 0.0
        outage_ends = time.monotonic() + OUTAGE_S - 2
        while time.monotonic() < outage_ends:
            paused = max(paused, sample(scrape(port), "consumer_paused_partitions",
                                        topic=topic) or 0)
            time.sleep(0.25)
        during = done() - before
        redis.start()
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "recovery")
    finally:
        assert stop(proc) == 0
        redis.stop()
    assert during == 0, f"{during} handler calls went ahead without dedup"
    assert paused >= 1
    ids = [e.message_id for e in events(record) if e.kind == "done"]
    assert len(ids) == len(set(ids)) == IDS, f"{len(ids) - len(set(ids))} repeated, " \
        f"{IDS - len(set(ids))} missing (seed {seed})"
