"""A real Prometheus (Debian's package) scrapes a running `consumer run` whose handler is stuck,
so its group lags; the lag read back through Prometheus's query API, in messages and seconds,
equals what the broker reports for the group (`consumer lag`, which reads the broker), with
records produced in multi-record batches, where Tansu's ListOffsets is wrong."""

import json
import subprocess
import sys
import time

import pytest

from consumer import services
from tests.support.kafka import wait_for
from tests.support.lag_setup import commit, create_topic, produce_batched
from tests.support.prometheus import by_label, query, running_prometheus
from tests.support.runner import REPO, run_consumer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def broker_lag(bootstrap: str, group: str, topic: str) -> dict[str, dict[str, float]]:
    done = subprocess.run([sys.executable, "-m", "consumer", "lag", "--group", group,
                           "--topic", topic, "--bootstrap", bootstrap, "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {str(row["partition"]): row for row in json.loads(done.stdout)["partitions"]}


def test_lag_read_back_through_prometheus_equals_the_brokers(bootstrap, unique, tmp_path):
    topic, group = f"lagprom-{unique}", f"lagprom-{unique}"
    create_topic(bootstrap, topic, 3)
    now_ms = int(time.time() * 1000)
    ends = produce_batched(bootstrap, topic, {0: [now_ms - 60_000] * 9, 1: [now_ms] * 4,
                                              2: [now_ms] * 2})
    commit(bootstrap, group, topic, {0: 2, 1: 4, 2: 0})   # 1 is caught up
    metrics_port = services.free_port()
    consumer = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=tmp_path / "record.txt",
        log_file=tmp_path / "consumer.log",
        # Each partition's next record sits in a handler for the length of the test.
        extra=["--value-format", "bytes", "--no-dedup", "--ordering", "partition",
               "--metrics-port", str(metrics_port), "--shutdown-timeout", "1"],
        env={"HANDLER_DELAY_S": "600"})
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "consumer", "static_configs": [
                  {"targets": [f"127.0.0.1:{metrics_port}"]}]}]}
    try:
        with running_prometheus(config, tmp_path) as url:
            wanted = {"0": float(ends[0] - 2), "1": 0.0, "2": float(ends[2])}
            promql = f'consumer_lag_messages{{job="consumer",group="{group}",topic="{topic}"}}'
            wait_for(lambda: by_label(query(url, promql), "partition") == wanted, 40,
                     f"Prometheus to read lag {wanted}")
            broker = broker_lag(bootstrap, group, topic)
            assert {p: float(row["lag_messages"]) for p, row in broker.items()} == wanted
            ages = by_label(query(url, f'consumer_lag_seconds{{group="{group}"}}'), "partition")
            assert ages["1"] == 0.0
            assert ages["0"] == pytest.approx(broker["0"]["lag_seconds"], abs=10)
            assert ages["0"] == pytest.approx(60, abs=30)
    finally:
        consumer.kill()
        consumer.wait(10)
