"""Throughput of ``consumer run`` against a raw confluent-kafka ``consume()`` loop on the same
topic in the same run, and key vs partition ordering with a slow async handler.

The raw loop runs in a process of its own, twice a round: as a user writes it (library
defaults), and tuned as ``consumer run`` is (the garbage collector as runtime.py tunes it,
librdkafka's ``fetch.queue.backoff.ms`` as kafka.py sets it). Every record a ``consume()``
returns is an object the collector tracks, so with the defaults collections run every 700
records and bound the loop, at a cost that grows with whatever else the process holds: run in
the bench's own process after an earlier round, the loop swung 5x.

    .venv/bin/python bench/throughput.py [--messages N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (  # type: ignore[attr-defined]
    COUNTER,
    create_topic,
    group_flags,
    produce,
    run_pipeline,
    start_broker,
    tune_like_consumer_run,
    unique,
)
from confluent_kafka import Consumer


def count(msg: object) -> None:
    """The no-op handler: counts, so the clock can stop at the last message."""
    COUNTER.hit()


async def slow_count(msg: object) -> None:
    await asyncio.sleep(0.010)
    COUNTER.hit()


def raw_loop(bootstrap: str, topic: str, total: int, *, tuned: bool) -> float:
    """The loop's rate, measured in a fresh interpreter."""
    command = [sys.executable, __file__, "--raw-loop", bootstrap, topic, str(total)]
    out = subprocess.run(command + (["--tuned"] if tuned else []), check=True,
                         capture_output=True, text=True).stdout
    return float(out)


def _raw_loop_here(bootstrap: str, topic: str, total: int, tuning: dict[str, int]) -> float:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("raw"),
                         "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
                         **dict(item.split("=") for item in group_flags()[1::2]), **tuning})
    consumer.subscribe([topic])
    seen, first = 0, 0.0
    while seen < total:
        batch = consumer.consume(10_000, 1.0)
        if batch and not first:
            first = time.perf_counter()
        seen += len(batch)
    elapsed = time.perf_counter() - first
    consumer.close()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--raw-loop", nargs=3, metavar=("BOOTSTRAP", "TOPIC", "TOTAL"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.raw_loop:
        tuning = tune_like_consumer_run() if options.tuned else {}
        bootstrap, topic, total = options.raw_loop
        print(_raw_loop_here(bootstrap, topic, int(total), tuning))
        return
    bootstrap, broker = start_broker(Path(tempfile.mkdtemp()))
    try:
        topic = unique("bench")
        create_topic(bootstrap, topic, 4)
        total = options.messages
        produce(bootstrap, topic, ((str(i % 1000).encode(), b"x" * 100, None)
                                   for i in range(total)))
        raw, raw_tuned, ours = [], [], []
        base = ["--topic", topic, "--bootstrap", bootstrap, "--handler", "__main__:count",
                "--value-format", "bytes", "--ordering", "unordered", "--no-dedup",
                "--metrics-port", "0", "--log-format", "json", *group_flags()]
        for _ in range(options.rounds):  # interleaved, so machine load hits both alike
            raw.append(raw_loop(bootstrap, topic, total, tuned=False))
            raw_tuned.append(raw_loop(bootstrap, topic, total, tuned=True))
            ours.append(run_pipeline([*base, "--group", unique("ours")], total))
        print(f"1. no-op handler, bytes, unordered, {total:,} messages of 100 bytes, 4 partitions")
        print(f"   raw consume() loop   {statistics.median(raw):>10,.0f} msg/s  (runs: "
              f"{', '.join(f'{r:,.0f}' for r in raw)})")
        print(f"   raw loop, tuned      {statistics.median(raw_tuned):>10,.0f} msg/s  (runs: "
              f"{', '.join(f'{r:,.0f}' for r in raw_tuned)})")
        print(f"   consumer run         {statistics.median(ours):>10,.0f} msg/s  (runs: "
              f"{', '.join(f'{r:,.0f}' for r in ours)})")
        print(f"   ratio                {statistics.median(ours) / statistics.median(raw):>10.2f}"
              f"   (against the tuned loop: "
              f"{statistics.median(ours) / statistics.median(raw_tuned):.2f})")

        slow_topic = unique("ordering")
        create_topic(bootstrap, slow_topic, 4)
        slow_total = 3000
        produce(bootstrap, slow_topic, ((f"k{i % 100}".encode(), b"x", None)
                                        for i in range(slow_total)))
        rates = {}
        for ordering, target in (("key", slow_total), ("partition", 400)):
            rates[ordering] = run_pipeline(
                ["--topic", slow_topic, "--group", unique(ordering), "--bootstrap", bootstrap,
                 "--handler", "__main__:slow_count", "--value-format", "bytes", "--no-dedup",
                 "--ordering", ordering, "--concurrency", "200", "--metrics-port", "0",
                 "--log-format", "json", *group_flags()], target)
        print("2. async handler of 10 ms, 4 partitions, 100 keys, concurrency 200")
        print(f"   --ordering key       {rates['key']:>10,.0f} msg/s")
        print(f"   --ordering partition {rates['partition']:>10,.0f} msg/s")
        print(f"   ratio                {rates['key'] / rates['partition']:>10.1f}x")
    finally:
        broker.terminate()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
