"""A small process serving ``/metrics`` with the lag gauges of one group, read from the broker
every second, for the Prometheus scrape test. Prints its port once the first reading is set.
Usage: lag_exporter.py BOOTSTRAP GROUP TOPIC PARTITIONS"""

from __future__ import annotations

import sys
import time

from confluent_kafka import Consumer, TopicPartition

from consumer.http_server import Health, MetricsServer
from consumer.lag import LagProbe
from consumer.metrics import MetricsSettings, PrometheusMetrics


def main() -> None:
    bootstrap, group, topic, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    metrics = PrometheusMetrics(MetricsSettings(topic, group))
    health = Health()
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "enable.auto.commit": False})
    with LagProbe(bootstrap) as probe, MetricsServer(metrics.registry, health,
                                                      host="127.0.0.1", port=0) as server:
        announced = False
        while True:
            committed = reader.committed([TopicPartition(topic, p) for p in range(partitions)],
                                         timeout=10)
            for lag in probe.measure({(topic, tp.partition): tp.offset for tp in committed}):
                metrics.lag(lag.partition, lag.lag_messages, lag.lag_seconds)
            health.heartbeat()
            if not announced:
                print(server.port, flush=True)
                announced = True
            time.sleep(1)


if __name__ == "__main__":
    main()
