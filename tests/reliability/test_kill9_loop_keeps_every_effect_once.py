"""kill -9 loop: a consumer is killed again and again at random points of a run over a stream
with 1% duplicates and 0.1% poison (half of it a handler bug on some ids, half values that are
not JSON), and restarted each time. No runtime can avoid re-running what was in flight at a
crash, so handler calls may repeat there (reported as a figure, the window we keep small); the
idempotent sink must still hold each good id exactly once, nothing may be lost, and every
poison record must reach the dead-letter topic with its context.

SHORT: 5,000 ids, 2 kills. LONG (``RELIABILITY=long``): ~100,000 messages, 20 kills.
"""

import itertools
import os
import random
import signal
import time

import pytest

from tests.support.kafka import committed, create_topic, wait_for
from tests.support.outcomes import Progress, letters_of, sink_rows, verify
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import ends_of, json_stream, poison_ids, produce_planned

IDS = sized(5_000, 98_900)
KILLS = sized(2, 20)
POISON = sized(6, 100)   # 0.1%: half handler bugs, half undecodable values
PARTITIONS = sized(4, 8)
MAX_ATTEMPTS = 3

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(240, 1500))]


def kill_points(rnd: random.Random, good_ids: int, kills: int) -> list[int]:
    """How many distinct ids must be done before each kill: spread over the run, at least
    1% of the ids apart so every restarted process gets some work in before it dies."""
    low, high, gap = int(good_ids * 0.03), int(good_ids * 0.92), max(1, good_ids // 100)
    while True:
        points = sorted(rnd.sample(range(low, high), kills))
        if all(b - a >= gap for a, b in itertools.pairwise(points)):
            return points


def test_kill9_loop_keeps_every_effect_once(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"rel-kill9-{unique}", f"rel-kill9-{unique}"
    create_topic(bootstrap, topic, PARTITIONS)
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    stream = json_stream(IDS, duplicate_share=0.01, handler_poison=POISON // 2,
                         undecodable=POISON // 2, keys=500, seed=seed)
    sent = produce_planned(bootstrap, topic, stream)
    ends = ends_of(sent)
    record, sink = tmp_path / "record.txt", tmp_path / "sink.db"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   log_file=tmp_path / "consumer.log", handler="tests.support.handlers:upsert",
                   extra=["--value-format", "json", "--redis", redis_url, "--concurrency", "8",
                          "--max-attempts", str(MAX_ATTEMPTS), "--retry-backoff-ms", "100",
                          "--retry-backoff-max-ms", "400"],
                   env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.002",
                        "FAIL_IDS": ",".join(poison_ids(stream))})
    progress = Progress(record)
    good_ids = len({s.message_id for s in sent if s.planned.bad is None})
    started = time.monotonic()
    for point in kill_points(rnd, good_ids, KILLS):
        proc = run_consumer(**options)
        try:
            wait_for(lambda p=point, c=proc: progress.refresh() >= p or c.poll() is not None,
                     120, f"{point} ids done (seed {seed})", interval_s=0.05)
            assert proc.poll() is None, f"the consumer exited with {proc.returncode} on its " \
                                        f"own (seed {seed}); see {options['log_file']}"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    killed_at = progress.refresh()
    final = run_consumer(**options)
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends or
                 final.poll() is not None, sized(120, 600), f"the rest (seed {seed})",
                 interval_s=1.0)
    finally:
        code = stop(final)
    duration_s = time.monotonic() - started
    assert code == 0, f"the last consumer exited with {code} (seed {seed})"
    assert committed(bootstrap, group, topic, ends) == ends, "offsets not committed to the end"
    outcome = verify(sent, group=group, events=events(record), rows=sink_rows(sink),
                     letters=letters_of(bootstrap, topic, PARTITIONS, sent),
                     max_attempts=MAX_ATTEMPTS, killed=True)
    report("kill -9 loop", {
        "seed": seed,
        "records": outcome.records,
        "distinct good ids": outcome.good_ids,
        "duplicate copies": outcome.duplicate_copies,
        "poison records": f"{outcome.bad_records} ({POISON // 2} handler-bug ids, "
                          f"{POISON // 2} undecodable)",
        "kills": KILLS,
        "ids done when the last kill came": killed_at,
        "handler calls (good ids)": outcome.handler_calls_good,
        "repeated handler calls": f"{outcome.repeated_calls} "
                                  f"({outcome.repeated_calls / KILLS:.1f} per kill)",
        "dead letters": f"{outcome.dead_letters} ({outcome.repeated_letters} repeated: "
                        f"{outcome.repeated_letter_kinds or 'none'})",
        "sink rows": f"{outcome.good_ids}, one per good id",
        "duration": f"{duration_s:.0f} s",
    })
