"""Two members share a topic; a third joins mid-run and later leaves by SIGTERM. Cooperative
rebalances move partitions while messages flow: nothing is lost, and since a revoked partition
is drained and committed before it moves, nothing is handled twice either."""

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import done_counts, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

MESSAGES = 12_000


def test_a_member_joining_and_leaving_loses_nothing(bootstrap, unique, tmp_path):
    topic, group = f"members-{unique}", f"members-{unique}"
    create_topic(bootstrap, topic, 6)
    ends = produce(bootstrap, topic, ((f"k{i % 300}".encode(), b"{}", None)
                                      for i in range(MESSAGES)))
    record = tmp_path / "record.txt"

    def member(name: str):
        return run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                            log_file=tmp_path / f"{name}.log",
                            extra=["--value-format", "json", "--no-dedup", "--concurrency", "2"],
                            env={"HANDLER_DELAY_S": "0.01"})

    members = [member("a"), member("b")]
    try:
        wait_for(lambda: len(done_counts(record)) > 2000, 60, "the first two members to work")
        members.append(member("c"))
        wait_for(lambda: "assigned" in (tmp_path / "c.log").read_text(), 60, "c to join")
        progress = len(done_counts(record))
        wait_for(lambda: len(done_counts(record)) > progress + 1500, 60, "work with three")
        assert stop(members.pop()) == 0, "the third member did not leave cleanly"
        assert len(done_counts(record)) < MESSAGES, "the run ended before c left"
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 120, "the whole topic")
    finally:
        codes = [stop(m) for m in members]
    assert codes == [0, 0]
    counts = done_counts(record)
    missing = [(p, o) for p, end in ends.items() for o in range(end) if counts[(p, o)] == 0]
    assert not missing, f"{len(missing)} lost, e.g. {missing[:5]}"
    repeated = sum(n - 1 for n in counts.values())
    print(f"{repeated} repeated handler calls across the rebalances")
    assert repeated == 0
