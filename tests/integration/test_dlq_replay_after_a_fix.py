"""After a fix, `consumer dlq replay` sends the dead letters back through the same handlers,
dedup and validation: each formerly failing message is processed exactly once (a dead-lettered
id was never recorded done, so dedup lets it through), and a second replay processes none."""

import json
import subprocess
import sys
import time

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import REPO, events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FAILING = ["m5", "m17", "m300"]


def replay(bootstrap: str, dlq: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "consumer", "dlq", "replay", "--topic", dlq,
                           "--bootstrap", bootstrap, "--json"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_replay_after_a_fix_processes_each_letter_once(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"fix-{unique}", f"fix-{unique}"
    create_topic(bootstrap, topic, 2)
    ends = produce(bootstrap, topic, ((f"k{i % 40}".encode(), b"{}",
                                       {"message-id": f"m{i}".encode()}) for i in range(500)))
    record = tmp_path / "record.txt"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   extra=["--value-format", "json", "--redis", redis_url, "--max-attempts", "2",
                          "--retry-backoff-ms", "50"])
    buggy = run_consumer(**options, log_file=tmp_path / "buggy.log",
                         env={"FAIL_IDS": ",".join(FAILING)})
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 60, "the first run")
    finally:
        assert stop(buggy) == 0
    done = [e.message_id for e in events(record) if e.kind == "done"]
    assert sorted(done) == sorted(f"m{i}" for i in range(500) if f"m{i}" not in FAILING)

    fixed = run_consumer(**options, log_file=tmp_path / "fixed.log")
    try:
        wait_for(lambda: "assigned" in (tmp_path / "fixed.log").read_text(), 60, "the fix")
        first = replay(bootstrap, f"{topic}.dlq")
        wait_for(lambda: sum(e.kind == "done" for e in events(record)) == 500, 60,
                 "the replayed letters to be processed")
        second = replay(bootstrap, f"{topic}.dlq")
        time.sleep(3)   # anything the second replay sent would be handled by now
    finally:
        assert stop(fixed) == 0
    print(f"first replay: {first}\nsecond replay: {second}")
    replayed = [e.message_id for e in events(record) if e.kind == "done" and e.message_id in
                FAILING]
    assert sorted(replayed) == sorted(FAILING), "each letter processed exactly once"
    assert sum(e.kind == "done" for e in events(record)) == 500, "nothing else ran again"
    assert first["replayed"] == 3 and second["replayed"] == 0
