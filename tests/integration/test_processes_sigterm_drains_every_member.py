"""SIGTERM to the supervisor of ``consumer run --processes 2`` mid-run: it forwards the signal
once, each member finishes what it started and commits it, and the supervisor exits 0. The
committed offsets are then exactly the handled prefix of every partition, so a restart would
handle nothing twice. (No restart here: when two members leave a group at once, Tansu 0.6.0
never assigns the next member that joins it; on Apache Kafka it does.)"""

import signal
from pathlib import Path

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.members import children
from tests.support.runner import done_counts, events, run_consumer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MESSAGES = 4000


def test_sigterm_stops_every_member_with_its_work_committed(bootstrap, unique, tmp_path):
    topic, group = f"procs-term-{unique}", f"procs-term-{unique}"
    create_topic(bootstrap, topic, 4)
    ends = produce(bootstrap, topic, ((f"k{i % 50}".encode(), b"{}", None)
                                      for i in range(MESSAGES)))
    record = tmp_path / "record.txt"
    supervisor = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=record,
        log_file=tmp_path / "consumer.log", env={"HANDLER_DELAY_S": "0.005"},
        extra=["--value-format", "json", "--no-dedup", "--concurrency", "8",
               "--shutdown-timeout", "20", "--processes", "2"])
    wait_for(lambda: len(events(record)) > 800 or supervisor.poll() is not None, 60,
             "the members to be mid-way")
    assert supervisor.poll() is None, "the supervisor exited early"
    members = children(supervisor.pid)
    assert len(members) == 2
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(45) == 0
    assert not [pid for pid in members if Path(f"/proc/{pid}").exists()], \
        "a member outlived its supervisor"
    after_stop = done_counts(record)
    assert 0 < len(after_stop) < MESSAGES, "SIGTERM should have come mid-run"
    started = {(e.partition, e.offset) for e in events(record) if e.kind == "start"}
    assert started == set(after_stop), "a handler call started but did not finish"
    done_by_partition = {p: {o for (q, o) in after_stop if q == p} for p in ends}
    commits = committed(bootstrap, group, topic, ends)
    for partition, done in done_by_partition.items():
        position = max(0, commits[partition])  # never committed: -1001
        assert done == set(range(position)), \
            f"partition {partition}: committed {position}, handled {len(done)}"
    assert set(after_stop.values()) == {1}

