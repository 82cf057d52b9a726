"""The full pipeline (registry Avro, dedup, trivial handler, at-least-once commits) with each
optional stage on and off, in one run on one topic with 1% duplicates: what dedup and metrics
cost, and how many Redis round trips a message needs.

    .venv/bin/python bench/pipeline.py [--messages N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import (  # type: ignore[attr-defined]
    COUNTER,
    create_topic,
    group_flags,
    run_pipeline_runtime,
    start_broker,
    start_redis,
    start_registry,
    unique,
)
from orders_feed import OrdersTopic

from consumer.services import free_port

VARIANTS = {
    "full": [],
    "dedup off": ["--no-dedup"],
    "metrics off": ["--metrics-port", "0"],
}


def count(msg: object) -> None:
    """The trivial handler."""
    COUNTER.hit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp())
    services = [start_broker(workdir), start_redis(workdir), start_registry(workdir)]
    (bootstrap, _), (redis, _), (registry, _) = services
    try:
        topic = unique("orders")
        create_topic(bootstrap, topic, 4)
        feed = OrdersTopic(bootstrap, registry, topic, 4, duplicate_every=100)
        feed.fill(options.messages)
        handled = options.messages - options.messages // 100
        rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
        roundtrips: list[float] = []
        for _ in range(options.rounds):  # interleaved: machine load hits every variant alike
            for name, extra in VARIANTS.items():
                args = ["--topic", topic, "--group", unique("bench"), "--bootstrap", bootstrap,
                        "--registry", registry, "--redis", redis, "--handler", "__main__:count",
                        "--metrics-port", str(free_port()), "--log-format", "json",
                        *group_flags(), *extra]
                rate, runtime = run_pipeline_runtime(args, handled)
                rates[name].append(rate)
                if name == "full":
                    dedup = runtime.duplicates.counters  # type: ignore[attr-defined]
                    ledger = runtime.recovery.roundtrips  # type: ignore[attr-defined]
                    roundtrips.append((dedup["redis_roundtrips"] + ledger) / options.messages)
        full = statistics.median(rates["full"])
        print(f"orders v1 Avro, {options.messages:,} records (1% duplicates), 4 partitions, "
              f"median of {options.rounds} interleaved rounds")
        for name, values in rates.items():
            print(f"   {name:<12} {statistics.median(values):>9,.0f} msg/s   runs: "
                  f"{', '.join(f'{v:,.0f}' for v in values)}")
        print(f"   dedup on / off     {full / statistics.median(rates['dedup off']):.2f}"
              f"   (target >= 0.7)")
        print(f"   metrics on / off   {full / statistics.median(rates['metrics off']):.2f}"
              f"   (target >= 0.9)")
        print(f"   Redis round trips per message (dedup + attempt ledger): "
              f"{statistics.median(roundtrips):.4f}   (target <= 0.05)")
    finally:
        for _, proc in services:
            proc.terminate()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
