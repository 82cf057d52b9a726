"""``consumer run --processes 2``: two member processes of one group share a topic, every
message is handled once, and the supervisor's one metrics port shows both members: the sum of
their counts and the lag of every partition, whichever member holds it. With two cores or more
each member's poll thread keeps to a core of its own."""

import os

import pytest

from consumer import services
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.members import children, probe, processed, processed_at_stop, scrape
from tests.support.runner import done_counts, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MESSAGES = 6000
PARTITIONS = 4


def test_two_members_share_the_topic_and_one_scrape_shows_both(bootstrap, unique, tmp_path):
    topic, group = f"procs-{unique}", f"procs-{unique}"
    create_topic(bootstrap, topic, PARTITIONS)
    ends = produce(bootstrap, topic, ((f"k{i % 200}".encode(), b"{}", None)
                                      for i in range(MESSAGES)))
    port = services.free_port()
    record, log = tmp_path / "record.txt", tmp_path / "consumer.log"
    supervisor = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=record, log_file=log,
        extra=["--value-format", "json", "--no-dedup", "--concurrency", "4",
               "--processes", "2", "--metrics-port", str(port)],
        env={"HANDLER_DELAY_S": "0.002"})
    try:
        wait_for(lambda: probe(port, "/readyz") == 200 or supervisor.poll() is not None, 60,
                 "both members to be ready")
        assert supervisor.poll() is None, "the supervisor exited early"
        members = children(supervisor.pid)
        assert len(members) == 2, f"member processes: {members}"
        usable = sorted(os.sched_getaffinity(0))
        # a member's pid is its main thread's id: its poll thread
        poll_thread_cpus = sorted(sorted(os.sched_getaffinity(pid)) for pid in members)
        if len(usable) >= 2:
            assert poll_thread_cpus == [[usable[0]], [usable[1]]]
        else:
            assert poll_thread_cpus == [usable, usable]
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "the whole topic")

        def lag_of_every_partition_is_zero() -> bool:
            samples = scrape(port)
            lags = {dict(labels)["partition"]: value for (name, labels), value in samples.items()
                    if name == "consumer_lag_messages"}
            return processed(samples, topic) == MESSAGES and lags == {
                str(p): 0.0 for p in range(PARTITIONS)}

        wait_for(lag_of_every_partition_is_zero, 30, "one scrape to show both members' work")
        samples = scrape(port)
        assert samples[("consumer_members_running", ())] == 2
        assert samples[("consumer_member_restarts_total", ())] == 0
        assert probe(port, "/healthz") == 200
    finally:
        status = stop(supervisor)
    assert status == 0
    counts = done_counts(record)
    assert len(counts) == MESSAGES and set(counts.values()) == {1}
    shares = processed_at_stop(log)
    assert len(shares) == 2 and min(shares) > 0, f"each member's share: {shares}"
    assert sum(shares) == MESSAGES
