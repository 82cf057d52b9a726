"""A message that kills the process every time it is handled (as a segfault would): restarted
like a supervisor restarts it, the consumer blames that one message, counts its attempts in
Redis across the crashes, and dead-letters it once they are spent: no endless crash loop, and
everything else is handled."""

import pytest

from consumer.dlq import parse_dead_letter
from tests.support.dlq import read_topic
from tests.support.kafka import committed, create_topic, produce
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_a_crashing_message_ends_in_the_dead_letter_topic(bootstrap, redis_url, unique,
                                                           tmp_path):
    topic, group = f"crash-{unique}", f"crash-{unique}"
    create_topic(bootstrap, topic, 2)
    records = [(f"k{i % 20}".encode(), b"{}", {"message-id": f"m{i}".encode()})
               for i in range(300)]
    records[100] = (b"k0", b"{}", {"message-id": b"crasher"})
    ends = produce(bootstrap, topic, records)
    record = tmp_path / "record.txt"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   log_file=tmp_path / "consumer.log",
                   extra=["--value-format", "json", "--redis", redis_url, "--max-attempts", "3",
                          "--concurrency", "8"],
                   env={"CRASH_IDS": "crasher", "HANDLER_DELAY_S": "0.01"})
    crashes = 0
    proc = run_consumer(**options)
    try:
        for _ in range(60):
            try:
                code = proc.wait(2)
            except Exception:  # still running: done yet?
                if committed(bootstrap, group, topic, ends) == ends:
                    break
                continue
            assert code == 3, f"the consumer exited with {code}, not by the crash"
            crashes += 1
            assert crashes <= 5, "the crash loop did not end"
            proc = run_consumer(**options)
        else:
            raise AssertionError("the topic was never finished")
    finally:
        if proc.poll() is None:
            assert stop(proc) == 0

    log = events(record)
    crasher_runs = [e for e in log if e.message_id == "crasher" and e.kind == "start"]
    assert crashes == len(crasher_runs) == 3, "attempts are counted across crashes"
    done = {e.message_id for e in log if e.kind == "done"}
    assert done == {f"m{i}" for i in range(300)} - {"m100"}
    letters = [parse_dead_letter(r) for r in read_topic(bootstrap, f"{topic}.dlq", 2, expect=1)]
    assert [(x.message_id, x.category, x.attempts, x.error_class) for x in letters] == \
        [("crasher", "handler", 3, "consumer.errors.CrashLoopError")]
    assert "died 3 times" in letters[0].error_message
