"""kill -9 at random moments while 24,000 messages are consumed: after the last restart every
message was handled at least once and the committed offsets equal the end offsets."""

import os
import random
import signal
import time

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import done_counts, events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MESSAGES = 24_000
KILLS = 5


def test_kill9_at_random_moments_loses_nothing(bootstrap, unique, tmp_path):
    topic, group = f"kill9-{unique}", f"kill9-{unique}"
    create_topic(bootstrap, topic, 4)
    ends = produce(bootstrap, topic, ((str(i % 97).encode(), b'{"n": %d}' % i,
                                       {"message-id": f"m{i}".encode()})
                                      for i in range(MESSAGES)))
    assert sum(ends.values()) == MESSAGES
    record, log = tmp_path / "record.txt", tmp_path / "consumer.log"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   log_file=log, extra=["--value-format", "json", "--no-dedup",
                                        "--concurrency", "8"],
                   env={"HANDLER_DELAY_S": "0.002"})
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    handled_at_kill = []
    for _ in range(KILLS):
        proc = run_consumer(**options)
        try:
            before = len(events(record))
            # Kill only once it is really consuming, at a random moment after that.
            wait_for(lambda b=before, p=proc: len(events(record)) > b or p.poll() is not None, 60,
                     f"the consumer to start handling (seed {seed})")
            time.sleep(rnd.uniform(0.3, 1.5))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        handled_at_kill.append(len(done_counts(record)))
    assert handled_at_kill[-1] < MESSAGES, f"the kills came too late to test anything (seed {seed})"

    final = run_consumer(**options)
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 120,
                 f"committed offsets to reach {ends} (seed {seed})", interval_s=1.0)
    finally:
        assert stop(final) == 0
    counts = done_counts(record)
    missing = [(p, o) for p, end in ends.items() for o in range(end) if counts[(p, o)] == 0]
    assert not missing, f"{len(missing)} messages never handled, e.g. {missing[:5]} (seed {seed})"
    repeated = sum(c - 1 for c in counts.values())
    print(f"seed {seed}: distinct handled at each kill {handled_at_kill}; "
          f"{repeated} repeated handler calls over {KILLS} kills")
