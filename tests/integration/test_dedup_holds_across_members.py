"""Dedup with the group changing under it: two members share a stream of duplicated ids, a
third joins and one of the first two leaves by SIGTERM mid-run. Partitions, and the copies of
an id in them, move between processes: still one effect per id.

Copies here keep their key, as a retrying producer sends them, so they share a partition. (Two
copies on different partitions, handled at the same moment by two members, can both run:
dedup is a check before the call, not a lock; the handler's idempotency covers that case.)"""

import random

import pytest

from tests.support.duplicates import duplicated_stream
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

IDS = 3000


def test_one_effect_per_id_while_members_come_and_go(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"dupmembers-{unique}", f"dupmembers-{unique}"
    create_topic(bootstrap, topic, 6)
    seed = random.randrange(1 << 30)
    ends = produce(bootstrap, topic, duplicated_stream(IDS, seed, cross_key_share=0))
    record = tmp_path / "record.txt"

    def member(name: str):
        return run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                            log_file=tmp_path / f"{name}.log",
                            extra=["--value-format", "json", "--redis", redis_url,
                                   "--concurrency", "2"],
                            env={"HANDLER_DELAY_S": "0.04"})

    def done() -> int:
        return sum(e.kind == "done" for e in events(record))

    first, second = member("a"), member("b")
    third = None
    try:
        wait_for(lambda: done() > 300, 60, "two members at work")
        third = member("c")
        wait_for(lambda: "assigned" in (tmp_path / "c.log").read_text(), 60, "c to join")
        progress = done()
        wait_for(lambda: done() > progress + 200, 60, "work with three members")
        assert stop(first) == 0
        assert done() < IDS, f"the run ended before a member left (seed {seed})"
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 120, "the stream")
    finally:
        codes = [stop(p) for p in (first, second, third) if p is not None]
    assert codes == [0, 0, 0]
    ids = [e.message_id for e in events(record) if e.kind == "done"]
    assert len(ids) == len(set(ids)) == IDS, f"{len(ids) - len(set(ids))} repeated effects, " \
        f"{IDS - len(set(ids))} missing (seed {seed})"
