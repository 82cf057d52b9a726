"""Redis, the dedup authority and the attempt ledger, is restarted mid-run: once by kill -9 (as
a crash) and, in the long form, also by SIGTERM. It runs with an append-only file fsynced on
every write, as a dedup store must, so its done marks and attempt counts survive. While it is
down no handler call goes ahead (the default policy pauses consumption instead of processing
without dedup), the poll loop stays alive (/healthz 200), and when it is back consumption
resumes by itself: every good id handled exactly once, one effect per id, poison tried exactly
--max-attempts times and dead-lettered once, offsets committed to the end.

SHORT: one restart (kill -9, down 5 s) in a 4,000-id stream. LONG (``RELIABILITY=long``):
three restarts (kill -9, SIGTERM, kill -9), down 20 s each, in a 24,000-id stream.
"""

import os
import random
import signal
import time

import pytest

from consumer.services import free_port
from tests.support.kafka import committed, create_topic, wait_for
from tests.support.members import probe
from tests.support.metrics import sample, scrape
from tests.support.outcomes import Progress, letters_of, sink_rows, verify
from tests.support.redis_servers import RedisServer
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import ends_of, json_stream, poison_ids, produce_planned

IDS = sized(4_000, 24_000)
RESTARTS = sized([signal.SIGKILL], [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL])
DOWN_S = sized(5, 20)
SETTLE_S = 2   # what was running when Redis went away finishes (its done mark waits)
PARTITIONS = 3
MAX_ATTEMPTS = 3

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(150, 420))]


def test_redis_restarted_mid_run(bootstrap, unique, tmp_path):
    topic, group = f"rel-redis-{unique}", f"rel-redis-{unique}"
    create_topic(bootstrap, topic, PARTITIONS)
    seed = random.randrange(1 << 30)
    stream = json_stream(IDS, duplicate_share=0.01, handler_poison=3, undecodable=3, keys=200,
                         seed=seed)
    sent = produce_planned(bootstrap, topic, stream)
    ends = ends_of(sent)
    redis = RedisServer(tmp_path / "redis", None, "--appendonly", "yes",
                        "--appendfsync", "always")
    redis.start()
    record, sink, port = tmp_path / "record.txt", tmp_path / "sink.db", free_port()
    progress = Progress(record)
    proc = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=record,
        log_file=tmp_path / "consumer.log", handler="tests.support.handlers:upsert",
        extra=["--value-format", "json", "--redis", redis.url, "--concurrency", "4",
               "--max-attempts", str(MAX_ATTEMPTS), "--retry-backoff-ms", "100",
               "--retry-backoff-max-ms", "400", "--metrics-port", str(port)],
        env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.004",
             "FAIL_IDS": ",".join(poison_ids(stream))})
    calls_while_down, paused, liveness, restarted_at = 0, 0.0, [], []
    started = time.monotonic()
    try:
        for index, how in enumerate(RESTARTS):
            point = IDS * (index + 1) // (len(RESTARTS) + 2)
            wait_for(lambda p=point: progress.refresh() >= p or proc.poll() is not None, 90,
                     f"{point} ids done before restart {index + 1} (seed {seed})")
            assert proc.poll() is None, f"the consumer exited with {proc.returncode}"
            restarted_at.append(progress.refresh())
            assert redis.proc is not None
            os.kill(redis.proc.pid, how)
            redis.proc.wait(10)
            redis.proc = None
            time.sleep(SETTLE_S)
            progress.refresh()
            calls_before = progress.calls
            back_at = time.monotonic() + DOWN_S - SETTLE_S
            while time.monotonic() < back_at:
                paused = max(paused, sample(scrape(port), "consumer_paused_partitions",
                                            topic=topic) or 0)
                liveness.append(probe(port, "/healthz"))
                time.sleep(0.25)
            progress.refresh()
            calls_while_down += progress.calls - calls_before
            redis.start()
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends or
                 proc.poll() is not None, 120, f"the whole topic (seed {seed})", interval_s=1.0)
        assert proc.poll() is None, f"the consumer exited with {proc.returncode}"
    finally:
        code = stop(proc)
        redis.stop()
    duration_s = time.monotonic() - started
    assert code == 0, f"the consumer exited with {code}"
    assert calls_while_down == 0, f"{calls_while_down} handler calls went ahead without dedup"
    assert paused >= 1, "consumption was not paused while Redis was down"
    assert set(liveness) == {200}, f"/healthz answered {sorted(set(liveness))} while Redis was down"
    outcome = verify(sent, group=group, events=events(record), rows=sink_rows(sink),
                     letters=letters_of(bootstrap, topic, PARTITIONS, sent),
                     max_attempts=MAX_ATTEMPTS, killed=False)
    report("Redis restarted mid-run", {
        "seed": seed,
        "records": outcome.records,
        "distinct good ids": outcome.good_ids,
        "duplicate copies": outcome.duplicate_copies,
        "poison records": outcome.bad_records,
        "restarts": ", ".join(signal.Signals(s).name for s in RESTARTS)
                    + f"; down {DOWN_S} s each, at {restarted_at} ids done",
        "handler calls while Redis was down": calls_while_down,
        "paused partitions while down (max)": int(paused),
        "/healthz while down": f"{liveness.count(200)} of {len(liveness)} probes 200",
        "repeated handler calls (good ids)": outcome.repeated_calls,
        "handler calls of poison ids": f"{outcome.poison_calls} ({MAX_ATTEMPTS} per copy)",
        "dead letters": outcome.dead_letters,
        "duration": f"{duration_s:.0f} s",
    })
