"""A small process serving ``/metrics`` with the lag gauges of one group, kept fresh every
second by ``LagReporter`` from the group's commits on the broker, for the Prometheus scrape
test. Prints its port once the first reading is set. Usage:
lag_exporter.py BOOTSTRAP GROUP TOPIC PARTITIONS"""

from __future__ import annotations

import sys
import threading

from confluent_kafka import Consumer, TopicPartition

from consumer.http_server import Health, MetricsServer
from consumer.lag import LagProbe, LagReporter
from consumer.metrics import MetricsSettings, PrometheusMetrics


def main() -> None:
    bootstrap, group, topic, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    metrics = PrometheusMetrics(MetricsSettings(topic, group))
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "enable.auto.commit": False})

    def committed() -> dict[int, int | None]:
        answer = reader.committed([TopicPartition(topic, p) for p in range(partitions)],
                                  timeout=10)
        return {tp.partition: tp.offset if tp.offset >= 0 else None for tp in answer}

    with LagProbe(bootstrap) as probe, MetricsServer(metrics.registry, Health(),
                                                      host="127.0.0.1", port=0) as server:
        reporter = LagReporter(probe, metrics, topic, committed, interval_s=1.0)
        reporter.refresh()
        print(server.port, flush=True)
        reporter.start()
        threading.Event().wait()


if __name__ == "__main__":
    main()
