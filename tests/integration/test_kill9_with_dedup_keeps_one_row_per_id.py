"""kill -9 with dedup on: no runtime can avoid running again what was in flight at the crash,
so the plain side effect may repeat there, but the toolkit's upsert sink holds each id exactly
once. The test reports how many handler calls were repeated: the window we keep small."""

import os
import random
import signal
import sqlite3
import time

import pytest

from tests.support.duplicates import duplicated_stream
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

IDS = 8000
KILLS = 5


def test_upsert_sink_holds_each_id_once_across_kills(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"kill9dedup-{unique}", f"kill9dedup-{unique}"
    create_topic(bootstrap, topic, 4)
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    ends = produce(bootstrap, topic, duplicated_stream(IDS, seed, cross_key_share=0))
    record, sink = tmp_path / "record.txt", tmp_path / "sink.db"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   log_file=tmp_path / "consumer.log", handler="tests.support.handlers:upsert",
                   extra=["--value-format", "json", "--redis", redis_url, "--concurrency", "4"],
                   env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.005"})

    def done() -> int:
        return sum(e.kind == "done" for e in events(record))

    for _ in range(KILLS):
        proc = run_consumer(**options)
        try:
            before = done()
            wait_for(lambda b=before, p=proc: done() > b or p.poll() is not None, 60,
                     f"handling to start (seed {seed})")
            time.sleep(rnd.uniform(0.3, 1.2))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert len({e.message_id for e in events(record) if e.kind == "done"}) < IDS, \
        f"the kills came too late to test anything (seed {seed})"
    final = run_consumer(**options)
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 180, "the rest")
    finally:
        assert stop(final) == 0
    with sqlite3.connect(sink) as db:
        rows = db.execute("SELECT message_id, COUNT(*) FROM effects GROUP BY message_id")
        per_id = dict(rows.fetchall())
    assert len(per_id) == IDS and set(per_id.values()) == {1}, f"seed {seed}"
    calls = [e.message_id for e in events(record) if e.kind == "done"]
    repeated = len(calls) - IDS
    print(f"seed {seed}: {KILLS} kills, {len(calls)} handler calls for {IDS} ids: {repeated} "
          f"repeated ({repeated / KILLS:.0f} per kill), sink holds each id once")
