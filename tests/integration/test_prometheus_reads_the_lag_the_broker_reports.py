"""A real Prometheus (Debian's package) scrapes a process serving our ``/metrics`` with lag
gauges read from the broker; the lag read back through its query API equals the lag the
producer's delivery reports and our commits imply."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from consumer import services
from tests.support.lag_setup import commit, create_topic, produce_batched

pytestmark = pytest.mark.integration

EXPORTER = Path(__file__).parents[1] / "support" / "lag_exporter.py"
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def lag_exporter(bootstrap, unique):
    topic, group = f"lag-prom-{unique}", f"g-{unique}"
    create_topic(bootstrap, topic, 3)
    ends = produce_batched(bootstrap, topic, {0: [int(time.time() * 1000) - 60_000] * 9,
                                              1: [int(time.time() * 1000)] * 4,
                                              2: [int(time.time() * 1000)] * 2})
    commit(bootstrap, group, topic, {0: 2, 1: 4, 2: 0})
    expected = {"0": ends[0] - 2, "1": 0, "2": ends[2]}
    proc = subprocess.Popen([sys.executable, str(EXPORTER), bootstrap, group, topic, "3"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())

    def catch_up_partition_0() -> None:
        commit(bootstrap, group, topic, {0: ends[0]})

    yield port, group, expected, catch_up_partition_0
    proc.kill()
    proc.wait(10)


@pytest.fixture
def prometheus(tmp_path: Path, lag_exporter):
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    target_port = lag_exporter[0]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: consumer\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n")
    port = services.free_port()
    proc = services.spawn([PROMETHEUS, f"--config.file={config}",
                           f"--storage.tsdb.path={tmp_path / 'data'}",
                           f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        services.wait_until(lambda: httpx.get(f"{url}/-/ready").status_code == 200, 30,
                            "prometheus", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def query_until(url: str, promql: str, wanted: dict[str, float]) -> dict[str, float]:
    deadline = time.monotonic() + 30
    seen = query(url, promql)
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = query(url, promql)
    return seen


def query(url: str, promql: str) -> dict[str, float]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success"
    return {row["metric"]["partition"]: float(row["value"][1]) for row in answer["data"]["result"]}


def test_lag_read_back_through_prometheus_equals_the_brokers(prometheus, lag_exporter):
    _, group, expected, catch_up_partition_0 = lag_exporter
    promql = f'consumer_lag_messages{{job="consumer",group="{group}"}}'
    wanted = {partition: float(lag) for partition, lag in expected.items()}
    assert query_until(prometheus, promql, wanted) == wanted
    ages = query(prometheus, f'consumer_lag_seconds{{group="{group}"}}')
    assert ages["1"] == 0.0
    assert ages["0"] == pytest.approx(60, abs=30)

    catch_up_partition_0()  # the group commits: the next refresh and scrape show it
    wanted["0"] = 0.0
    assert query_until(prometheus, promql, wanted) == wanted
