"""A member process for the merged-scrape tests: serves its metrics and health on a free
loopback port, prints the port, then obeys one command per stdin line and answers "ok":
``processed N``, ``seconds S...``, ``lag PARTITION MESSAGES SECONDS``, ``breaker NAME STATE``,
``ready``, ``beat``. Usage: metrics_member.py TOPIC GROUP STALL_AFTER_S"""

from __future__ import annotations

import sys

from consumer.http_server import Health, MetricsServer
from consumer.metrics import MetricsSettings, PrometheusMetrics


def main() -> None:
    topic, group, stall_after_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    metrics = PrometheusMetrics(MetricsSettings(topic, group))
    health = Health(stall_after_s=stall_after_s)
    server = MetricsServer(metrics.registry, health, host="127.0.0.1", port=0)
    print(server.start(), flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "processed":
            metrics.messages("processed", int(args[0]))
        elif command == "seconds":
            metrics.processing_seconds([float(arg) for arg in args])
        elif command == "lag":
            metrics.lag(int(args[0]), int(args[1]), float(args[2]))
        elif command == "breaker":
            metrics.breaker_state(args[0], args[1])
        elif command == "ready":
            health.ready(True)
        elif command == "beat":
            health.heartbeat()
        print("ok", flush=True)


if __name__ == "__main__":
    main()
