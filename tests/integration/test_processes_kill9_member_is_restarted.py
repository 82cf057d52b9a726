"""``consumer run --processes 2``: one member is killed with SIGKILL mid-run. The supervisor
logs how it died, starts a new member in its place, and the group still handles every message:
nothing is lost, and the merged scrape counts the restart."""

import os
import signal

import pytest

from consumer import services
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.members import children, probe, scrape
from tests.support.runner import done_counts, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MESSAGES = 12_000


def test_a_killed_member_is_restarted_and_nothing_is_lost(bootstrap, unique, tmp_path):
    topic, group = f"procs-kill-{unique}", f"procs-kill-{unique}"
    create_topic(bootstrap, topic, 4)
    ends = produce(bootstrap, topic, ((f"k{i % 97}".encode(), b"{}",
                                       {"message-id": f"m{i}".encode()})
                                      for i in range(MESSAGES)))
    port = services.free_port()
    record, log = tmp_path / "record.txt", tmp_path / "consumer.log"
    supervisor = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=record, log_file=log,
        extra=["--value-format", "json", "--no-dedup", "--concurrency", "2",
               "--processes", "2", "--metrics-port", str(port)],
        env={"HANDLER_DELAY_S": "0.005"})
    try:
        wait_for(lambda: len(done_counts(record)) > 1500 or supervisor.poll() is not None, 60,
                 "both members to be working")
        assert supervisor.poll() is None, "the supervisor exited early"
        first_members = children(supervisor.pid)
        assert len(first_members) == 2
        victim = first_members[0]
        os.kill(victim, signal.SIGKILL)
        handled_at_kill = len(done_counts(record))

        def replaced() -> bool:
            now = children(supervisor.pid)
            return len(now) == 2 and victim not in now
        wait_for(replaced, 30, "the supervisor to start a member in the killed one's place")
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 120, "the whole topic",
                 interval_s=1.0)
        assert handled_at_kill < MESSAGES, "the kill came too late to test anything"
        samples = scrape(port)
        assert samples[("consumer_member_restarts_total", ())] == 1
        assert samples[("consumer_members_running", ())] == 2
        wait_for(lambda: probe(port, "/readyz") == 200, 30, "the group to be ready again")
    finally:
        status = stop(supervisor)
    assert status == 0
    counts = done_counts(record)
    missing = [(p, o) for p, end in ends.items() for o in range(end) if counts[(p, o)] == 0]
    assert not missing, f"{len(missing)} never handled, e.g. {missing[:5]}"
    died = [line for line in log.read_text().splitlines() if f"(pid {victim})" in line
            and "was killed by SIGKILL" in line and "restarting it in" in line]
    assert len(died) == 1, "no log line for the killed member's death and restart"
    print(f"{sum(n - 1 for n in counts.values())} repeated handler calls after the kill")
