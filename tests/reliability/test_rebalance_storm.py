"""A rebalance storm: every 5 s a member joins the group or one leaves by SIGTERM, while records
keep arriving. Cooperative rebalances move partitions back and forth under live traffic; a
partition revoked is drained and committed before it moves. Nothing may be lost, every member
must leave with exit status 0, each good id must be handled exactly once (no process was
killed) with one effect in the idempotent sink, and every poison record dead-lettered once.

Leaves are one at a time: with Tansu, two members leaving at the same moment can leave the
next joiner unassigned for a long time.

SHORT: a 25 s storm. LONG (``RELIABILITY=long``): a 5-minute storm.

On the embedded Tansu 0.6.0 a member leaves only once the broker has reported the group stable
for 3 s: Tansu wedges a group whose leader leaves during a rebalance (it keeps naming the
departed member as leader, and no member is ever assigned anything again;
tools/tansu_group_wedge.py shows it with plain confluent-kafka members, without any of our
code). Joins still land at any moment, rebalances in progress included. Against Apache Kafka
(``KAFKA_BOOTSTRAP``) members leave without waiting.
"""

import itertools
import os
import random
import time
from pathlib import Path

import pytest

from tests.support.kafka import committed, create_topic, wait_for, wait_until_stable
from tests.support.outcomes import Progress, letters_of, sink_rows, verify
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import LiveLoad, PlannedProducer, ends_of, json_stream, poison_ids

STORM_S = sized(25, 300)
EVERY_S = 5
RATE_PER_S = 300
IDS = (STORM_S + 5) * RATE_PER_S
MEMBERS = (1, 4)          # fewest and most members during the storm
PARTITIONS = 6
MAX_ATTEMPTS = 3
LEAVE_WHEN_STABLE = not os.environ.get("KAFKA_BOOTSTRAP")   # the embedded Tansu: see above

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(180, 1000))]


def test_rebalance_storm(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"rel-storm-{unique}", f"rel-storm-{unique}"
    create_topic(bootstrap, topic, PARTITIONS)
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    stream = json_stream(IDS, duplicate_share=0.01, handler_poison=3, undecodable=3, keys=300,
                         seed=seed)
    record, sink = tmp_path / "record.txt", tmp_path / "sink.db"
    progress = Progress(record)
    log_of: dict[int, Path] = {}   # member pid -> its log, in the order they joined

    def join():
        log = tmp_path / f"member{len(log_of)}.log"
        member = run_consumer(
            bootstrap=bootstrap, topic=topic, group=group, record_file=record,
            log_file=log, handler="tests.support.handlers:upsert",
            extra=["--value-format", "json", "--redis", redis_url, "--concurrency", "4",
                   "--max-attempts", str(MAX_ATTEMPTS), "--retry-backoff-ms", "100",
                   "--retry-backoff-max-ms", "400"],
            env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.005",
                 "FAIL_IDS": ",".join(poison_ids(stream))})
        log_of[member.pid] = log
        return member

    def wait_until_all_in_group() -> None:
        """Leaves and the end's SIGTERMs are for members at work, never for one still starting
        up (the storm may end on a join): that one would die of the signal before its
        handlers are installed, which is no rebalance."""
        wait_for(lambda: all("assigned " in log_of[m.pid].read_text() for m in members), 60,
                 f"every member's first assignment (seed {seed})")

    load = LiveLoad(PlannedProducer(bootstrap, topic), stream, RATE_PER_S).start()
    members = [join(), join()]
    joins, leave_codes, waited_for_stable_s = 2, [], 0.0
    try:
        wait_for(lambda: progress.refresh() > 0, 60, "the first handler calls")
        storm_ends = time.monotonic() + STORM_S
        while time.monotonic() < storm_ends:
            time.sleep(EVERY_S)
            crashed = [m.returncode for m in members if m.poll() is not None]
            assert not crashed, f"members exited on their own with {crashed} (seed {seed})"
            grow = len(members) < MEMBERS[1] and (len(members) <= MEMBERS[0] or
                                                  rnd.random() < 0.5)
            if grow:
                members.append(join())
                joins += 1
            else:
                wait_until_all_in_group()
                if LEAVE_WHEN_STABLE:
                    waited_for_stable_s += wait_until_stable(bootstrap, group, for_s=3,
                                                             timeout_s=60)
                leaving = members.pop(rnd.randrange(len(members)))
                leave_codes.append(stop(leaving))
        assert leave_codes and joins > 2, "the storm had no join or no leave"
        wait_until_all_in_group()
        sent = load.finish(60)
        ends = ends_of(sent)
        calm = time.monotonic()
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends or
                 any(m.poll() is not None for m in members), sized(120, 600),
                 f"the whole topic (seed {seed})", interval_s=1.0)
        settled_s = time.monotonic() - calm
    finally:
        load.abort()
        final_codes = [stop(m) for m in members]
    assert set(leave_codes + final_codes) == {0}, \
        f"exit statuses: left {leave_codes}, at the end {final_codes} (seed {seed})"
    member_logs = [log.read_text() for log in log_of.values()]
    unfinished = sum(log.count("with work unfinished") + log.count("lost ")
                     for log in member_logs)
    calls = sorted(e.at for e in events(record) if e.kind == "start")
    longest_pause_s = max(b - a for a, b in itertools.pairwise(calls))
    outcome = verify(sent, group=group, events=events(record), rows=sink_rows(sink),
                     letters=letters_of(bootstrap, topic, PARTITIONS, sent),
                     max_attempts=MAX_ATTEMPTS, killed=False, partitions_lost=unfinished > 0)
    report("rebalance storm", {
        "seed": seed,
        "records": f"{outcome.records} ({RATE_PER_S}/s)",
        "distinct good ids": outcome.good_ids,
        "duplicate copies": outcome.duplicate_copies,
        "poison records": outcome.bad_records,
        "storm": f"{STORM_S} s, a change every {EVERY_S} s: {joins} joins, "
                 f"{len(leave_codes)} leaves by SIGTERM",
        "leaves waited for a stable group": f"{waited_for_stable_s:.1f} s in all"
                                            if LEAVE_WHEN_STABLE else "no (Apache Kafka)",
        "assignments / revocations": f"{sum(log.count('assigned ') for log in member_logs)} / "
                                     f"{sum(log.count('revoking ') for log in member_logs)}",
        "partitions let go unfinished or lost": unfinished,
        "longest time without a handler call": f"{longest_pause_s:.1f} s",
        "storm over -> all committed": f"{settled_s:.1f} s",
        "repeated handler calls (good ids)": outcome.repeated_calls,
        "handler calls of poison ids": f"{outcome.poison_calls} ({MAX_ATTEMPTS} per copy "
                                       "unless let go unfinished)",
        "dead letters": f"{outcome.dead_letters} ({outcome.repeated_letters} repeated)",
    })
