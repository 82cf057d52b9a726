"""Reproduces, without any of our code, the Tansu 0.6.0 fault that wedges a consumer group in
a rebalance storm: plain confluent-kafka members (cooperative-sticky, session 6 s) join and
leave by ``close()`` every 5 s. Once a group leader leaves while a rebalance is in progress,
Tansu keeps naming that departed member as the leader of every later generation; nobody sends
the leader's SyncGroup, every member's SyncGroup ends in "rebalance in progress", and no
partition is ever assigned again, long after the storm is over.

    .venv/bin/python tools/tansu_group_wedge.py [--storm-s 300] [--seed 1] [--leave-when-stable]

Prints who holds what after the storm; exits 1 when the group never settled (wedged). With
``--leave-when-stable`` a member is stopped only once the broker has reported the group stable
for 3 s, so no leader leaves during a rebalance: the group then settles (what the reliability
suite's storm does on Tansu).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumer import services  # noqa: E402
from tests.support.kafka import create_topic, wait_until_stable  # noqa: E402

PARTITIONS = 6


def member(bootstrap: str, out: str) -> None:
    """One plain member: notes what it holds in ``out`` after every assignment change."""
    from confluent_kafka import Consumer

    held: set[int] = set()
    stopping = False

    def note(event: str, partitions: list) -> None:
        if event == "assign":
            held.update(p.partition for p in partitions)
        else:
            held.difference_update(p.partition for p in partitions)
        Path(out).write_text(" ".join(map(str, sorted(held))) or "-")

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "storm",
                         "partition.assignment.strategy": "cooperative-sticky",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["storm"], on_assign=lambda c, ps: note("assign", ps),
                       on_revoke=lambda c, ps: note("revoke", ps),
                       on_lost=lambda c, ps: note("lost", ps))
    while not stopping:
        consumer.consume(100, 0.2)
    consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storm-s", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--leave-when-stable", action="store_true")
    parser.add_argument("--member", nargs=2, help=argparse.SUPPRESS)
    o = parser.parse_args()
    if o.member:
        member(*o.member)
        return 0
    work = Path(tempfile.mkdtemp(prefix="tansu-wedge-"))
    port = services.free_port()
    bootstrap = f"{services.LOOPBACK}:{port}"
    broker = services.spawn(services.broker_command(port), work / "broker.log")
    services.wait_until(lambda: services.broker_answers(bootstrap), 30, "tansu", broker)
    create_topic(bootstrap, "storm", PARTITIONS)
    rnd = random.Random(o.seed)
    members: list[tuple[subprocess.Popen[bytes], Path]] = []

    def join() -> None:
        out = work / f"member{len(list(work.glob('member*')))}"
        out.write_text("-")
        members.append((subprocess.Popen([sys.executable, __file__, "--member", bootstrap,
                                          str(out)]), out))

    try:
        join()
        join()
        time.sleep(10)
        ends = time.monotonic() + o.storm_s
        while time.monotonic() < ends:
            time.sleep(5)
            if len(members) < 4 and (len(members) <= 2 or rnd.random() < 0.5):
                join()
            else:
                if o.leave_when_stable:
                    wait_until_stable(bootstrap, "storm", for_s=3, timeout_s=60)
                proc, _ = members.pop(rnd.randrange(len(members)))
                proc.terminate()
                proc.wait(30)
        print(f"storm over ({o.storm_s:.0f} s); {len(members)} members stay", flush=True)
        for _ in range(45):
            time.sleep(2)
            held = {out.name: out.read_text() for _, out in members}
            print(" ".join(f"{name}: {parts}" for name, parts in held.items()), flush=True)
            if sum(len(p.split()) for p in held.values() if p != "-") == PARTITIONS:
                print("the group settled")
                return 0
        print("wedged: no member was assigned the partitions within 90 s of the storm's end")
        return 1
    finally:
        for proc, _ in members:
            proc.terminate()
            proc.wait(30)
        broker.terminate()  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
