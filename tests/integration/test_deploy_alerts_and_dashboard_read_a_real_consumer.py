"""The monitoring artefacts work on what a real `consumer run` exports, not only on paper: a
real Prometheus (Debian's package) loads deploy/prometheus/prometheus.yml's job and
alerts.yml, scrapes a running consumer whose handler fails on some messages and which meets
bytes that are not JSON; ConsumerDeadLettersAppearing fires for its topic, and every query
of the Grafana dashboard runs, the key panels showing the numbers the run produced."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from consumer import services
from tests.support.kafka import create_topic, produce, wait_for
from tests.support.prometheus import by_label, running_prometheus
from tests.support.prometheus import query as prometheus_query
from tests.support.runner import run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MESSAGES = 300
FAILING_IDS = ("m7", "m42", "m99")
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "10m", "$__interval": "1s"}


def prometheus_config(metrics_port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its consumer job pointed at the test's consumer,
    its rules at the repository's alerts.yml, and scrapes every second to keep the test short."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "prometheus" / name) for name in config["rule_files"]]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "consumer"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    config["scrape_configs"] = [job]
    return config


@pytest.fixture
def metrics_port() -> int:
    return services.free_port()


@pytest.fixture
def prometheus(tmp_path: Path, metrics_port: int) -> Iterator[str]:
    with running_prometheus(prometheus_config(metrics_port), tmp_path) as url:
        yield url


def query(url: str, promql: str) -> list[dict[str, Any]]:
    for variable, value in GRAFANA_VARIABLES.items():
        promql = promql.replace(variable, value)
    return prometheus_query(url, promql)


def firing(url: str, alertname: str) -> list[dict[str, str]]:
    alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [a["labels"] for a in alerts
            if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


def dashboard_queries(topic: str, group: str) -> dict[str, list[str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "consumer.json").read_text())
    return {panel["title"]: [t["expr"].replace("$topic", topic).replace("$group", group)
                             for t in panel["targets"]]
            for panel in dashboard["panels"] if panel["type"] != "row"}


def ready(metrics_port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_dead_letters_fire_the_alert_and_the_dashboard_shows_the_run(
        bootstrap, unique, tmp_path, metrics_port, prometheus):
    topic, group = f"deploy-{unique}", f"deploy-{unique}"
    create_topic(bootstrap, topic, 2)
    consumer = run_consumer(
        bootstrap=bootstrap, topic=topic, group=group, record_file=tmp_path / "record.txt",
        log_file=tmp_path / "consumer.log",
        extra=["--value-format", "json", "--no-dedup", "--metrics-port", str(metrics_port),
               "--max-attempts", "2", "--retry-backoff-ms", "50"],
        env={"FAIL_IDS": ",".join(FAILING_IDS)})
    try:
        # Produce only once Prometheus scrapes the joined member, so its counters rise
        # between scrapes (rate() and the percentiles need two samples).
        wait_for(lambda: ready(metrics_port), 60, "the consumer to join its group")
        wait_for(lambda: by_label(query(prometheus, 'up{job="consumer"}'), "job") == {
            "consumer": 1.0}, 30, "Prometheus to scrape the consumer")
        records = [(f"k{i % 10}".encode(), json.dumps({"n": i}).encode(),
                    {"message-id": f"m{i}".encode()}) for i in range(MESSAGES)]
        records.append((b"k0", b"\xffnot json", {"message-id": b"garbage"}))
        produce(bootstrap, topic, records)

        wait_for(lambda: bool(firing(prometheus, "ConsumerDeadLettersAppearing")), 60,
                 "ConsumerDeadLettersAppearing to fire")
        [alert] = firing(prometheus, "ConsumerDeadLettersAppearing")
        assert (alert["topic"], alert["severity"]) == (topic, "warning")

        panels = dashboard_queries(topic, group)
        # The stat shows increase() over the range, which extrapolates: whole messages rounded.
        wait_for(lambda: round(by_label(query(prometheus, panels["Dead letters (range)"][0]), "")
                               .get("", 0)) == len(FAILING_IDS) + 1, 30,
                 "every dead letter to be scraped")
        for exprs in panels.values():
            for expr in exprs:
                query(prometheus, expr)  # every panel's query runs

        outcomes = by_label(query(prometheus, panels["Messages by outcome"][0]), "outcome")
        assert outcomes["processed"] > 0 and outcomes["dead_lettered"] > 0
        errors = by_label(query(prometheus, panels["Data errors by reason"][0]), "reason")
        assert errors["decode"] > 0
        wait_for(lambda: by_label(query(prometheus, panels["Total lag"][0]), "") == {"": 0.0},
                 30, "the dashboard's total lag to reach 0")
        partitions = by_label(query(prometheus, panels["Lag per partition (messages)"][0]),
                            "partition")
        assert set(partitions) == {"0", "1"}
        for title in ("Processing latency", "End-to-end latency"):
            percentiles = [by_label(query(prometheus, expr), "topic")[topic]
                           for expr in panels[title]]
            assert all(0 <= p < 60 for p in percentiles), (title, percentiles)
            assert percentiles == sorted(percentiles), f"{title}: p50 <= p95 <= p99"
    finally:
        stop(consumer)
