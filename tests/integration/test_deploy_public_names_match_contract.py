"""Every public name the deployment artefacts use is the one ../shared/CONTRACT.md fixes, so a
rename on either side shows here: metric names, their labels and label values in the alert
rules and the dashboard (and the dashboard shows every contract metric), the CONSUMER_*
environment variables, the commands and flags the containers run (also parsed by the real
CLI), the TOML keys, the metrics port and the /metrics, /healthz and /readyz paths."""

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer import constants
from consumer.cli import build_parser

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SHARED_CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"
# A copy kept in the repo, so a clone alone (CI's) checks the names too.
VENDORED_CONTRACT = ROOT / "docs" / "CONTRACT.md"
# Labels Prometheus adds to every scraped series (and Kubernetes discovery to ServiceMonitor
# targets): not the runtime's, so not in the contract.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
# The data-quality series of the issue's third observability layer, documented beside the
# contract names in consumer/constants.py.
DATA_QUALITY_METRICS: dict[str, dict[str, set[str]]] = {
    constants.METRIC_NULL_VALUES: {"topic": set(), "field": set()},
    constants.METRIC_NULL_CHECKED_RECORDS: {"topic": set()},
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Contract:
    text: str

    def section(self, heading: str) -> str:
        return self.text.split(heading, 1)[1].split("\n## ", 1)[0]

    def metrics(self) -> dict[str, tuple[str, dict[str, set[str]]]]:
        """name -> (type, label -> allowed values; an empty set allows any value)."""
        found = {}
        for line in self.section("## Metrics").splitlines():
            if not line.startswith("| `consumer_"):
                continue
            name, kind, labels_cell = (c.strip() for c in re.split(r"(?<!\\)\|", line)[1:4])
            labels: dict[str, set[str]] = {}
            label = ""
            for match in re.finditer(r"(=|\\\|)?\s*`([^`]+)`", labels_cell):
                if match.group(1):
                    labels[label].add(match.group(2))
                else:
                    label = match.group(2)
                    labels[label] = set()
            found[name.strip("`")] = (kind, labels)
        return found

    def env_names(self) -> set[str]:
        return set(re.findall(r"\bCONSUMER_[A-Z_]+\b", self.text))

    def commands(self) -> dict[tuple[str, ...], set[str]]:
        """Command path -> its flags, from the commands table and the `consumer run` section;
        every command may take the service flags."""
        service_flags = {"--bootstrap", "--registry", "--redis"}
        found: dict[tuple[str, ...], set[str]] = {}
        for line in self.section("## Commands").splitlines():
            for usage in re.findall(r"`consumer ([^`]+)`", line.split("|")[1] if "|" in line else ""):
                path = tuple(takewhile(lambda word: re.fullmatch("[a-z]+", word), usage.split()))
                found[path] = set(re.findall(r"--[a-z][a-z-]*", usage)) | service_flags
        found[("run",)] |= set(re.findall(r"--[a-z][a-z-]*",
                                          self.section("## Configuration of `consumer run`")))
        return found


@pytest.fixture(scope="module")
def contract() -> Contract:
    path = SHARED_CONTRACT if SHARED_CONTRACT.is_file() else VENDORED_CONTRACT
    return Contract(path.read_text())


def test_the_copy_of_the_contract_is_the_shared_one():
    if SHARED_CONTRACT.is_file():
        assert VENDORED_CONTRACT.read_text() == SHARED_CONTRACT.read_text(), \
            "docs/CONTRACT.md is out of date: copy ../shared/CONTRACT.md over it"
    assert "## " in VENDORED_CONTRACT.read_text()


def yaml_file(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


def alert_expressions() -> dict[str, str]:
    return {rule["alert"]: rule["expr"]
            for group in yaml_file("deploy/prometheus/alerts.yml")["groups"]
            for rule in group["rules"]}


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana/dashboards/consumer.json").read_text())


def dashboard_targets() -> list[dict[str, Any]]:
    return [t for panel in dashboard()["panels"] for t in panel.get("targets", [])]


def promql_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every query the artefacts hold."""
    for alert, expr in alert_expressions().items():
        yield f"alert {alert}", expr
    for target in dashboard_targets():
        yield f"dashboard {target['expr'][:40]}…", target["expr"]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            yield f"dashboard variable {variable['name']}", variable["definition"]


def known_metrics(contract: Contract) -> dict[str, dict[str, set[str]]]:
    """Every series name a query may use -> its labels."""
    names: dict[str, dict[str, set[str]]] = dict(DATA_QUALITY_METRICS)
    for name, (kind, labels) in contract.metrics().items():
        names[name] = labels
        if kind == "histogram":
            for suffix in HISTOGRAM_SERIES:
                names[name + suffix] = {**labels, **({"le": set()} if suffix == "_bucket" else {})}
    return names


def test_the_contract_table_parses(contract):
    metrics = contract.metrics()
    assert len(metrics) == 11
    assert metrics["consumer_messages_total"] == ("counter", {
        "topic": set(), "outcome": {"processed", "duplicate", "dead_lettered", "retried"}})
    assert metrics["consumer_circuit_breaker_state"] == ("gauge", {"breaker": set()})
    assert metrics["consumer_redis_roundtrips_total"] == ("counter", {})


def test_queries_use_contract_metrics_labels_and_label_values(contract):
    metrics = known_metrics(contract)
    for where, expr in promql_queries():
        used = set(re.findall(r"\bconsumer_\w+", expr))
        assert used <= set(metrics), f"{where}: unknown metric {used - set(metrics)}"
        allowed = TARGET_LABELS.union(*(metrics[name] for name in used))
        for name, matchers in re.findall(r"\b(consumer_\w+)\{([^}]*)\}", expr):
            for label, operator, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
                assert label in TARGET_LABELS or label in metrics[name], f"{where}: {name}{{{label}}}"
                values = metrics[name].get(label)
                if values and not value.startswith("$"):
                    literal = value.split("|") if operator in ("=~", "!~") else [value]
                    assert set(literal) <= values, f"{where}: {label}={value!r} not in {values}"
        for clause in re.findall(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)", expr):
            grouped = {label.strip() for label in clause.split(",") if label.strip()}
            assert grouped <= allowed, f"{where}: grouping on {grouped - allowed}"


def test_dashboard_legends_name_labels_of_their_queries(contract):
    metrics = known_metrics(contract)
    for target in dashboard_targets():
        used = set(re.findall(r"\bconsumer_\w+", target["expr"]))
        allowed = TARGET_LABELS.union(*(metrics[name] for name in used))
        legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))
        assert legend_labels <= allowed, f"{target['expr']}: legend {legend_labels - allowed}"


def test_the_dashboard_shows_every_contract_metric(contract):
    shown = " ".join(t["expr"] for t in dashboard_targets())
    missing = [name for name in contract.metrics()
               if not re.search(rf"\b{name}(_bucket|_sum|_count)?\b", shown)]
    assert missing == []


def test_the_alerts_the_issue_asks_for_watch_the_contract_series():
    exprs = alert_expressions()
    assert 'consumer_messages_total{outcome="dead_lettered"}' in exprs["ConsumerDeadLettersAppearing"]
    assert "consumer_lag_seconds" in exprs["ConsumerLagAboveFreshnessTarget"]
    assert re.search(r"consumer_circuit_breaker_state\[1m\]\)\) == 2$",
                     exprs["ConsumerCircuitBreakerOpen"].strip())
    assert "consumer_lag_messages" in exprs["ConsumerStalled"]
    assert "consumer_messages_total" in exprs["ConsumerStalled"]


def deployment_container() -> dict[str, Any]:
    [container] = yaml_file("deploy/k8s/deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return container


def used_env_names() -> dict[str, set[str]]:
    compose = yaml_file("docker-compose.yml")["services"]
    scaled = yaml_file("deploy/k8s/scaledobject.yaml")
    return {
        "docker-compose.yml": {n for s in compose.values() for n in s.get("environment", {})},
        "deploy/k8s/deployment.yaml": {v["name"] for v in deployment_container()["env"]},
        "deploy/k8s/scaledobject.yaml": {value for t in scaled["spec"]["triggers"]
                                         for key, value in t["metadata"].items()
                                         if key.endswith("FromEnv")},
        "deploy/Dockerfile": set(re.findall(r"\bCONSUMER_[A-Z_]+\b",
                                            (DEPLOY / "Dockerfile").read_text())),
    }


def test_environment_variables_are_the_contracts(contract):
    for where, names in used_env_names().items():
        ours = {name for name in names if name.startswith("CONSUMER_")}
        assert ours, f"{where} uses no CONSUMER_* variable"
        assert ours <= contract.env_names(), f"{where}: {ours - contract.env_names()}"


def command_lines() -> dict[str, list[str]]:
    compose = yaml_file("docker-compose.yml")["services"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.M)
    return {
        **{f"compose {name}": service["command"] for name, service in compose.items()
           if service.get("image") == "consumer:local"},
        "k8s Deployment": deployment_container()["args"],
        "Dockerfile CMD": json.loads(cmd),
    }


def test_commands_and_flags_are_the_contracts(contract):
    commands = contract.commands()
    for where, argv in command_lines().items():
        words = [a for a in argv if not a.startswith("-")]
        path = next(p for p in sorted(commands, key=len, reverse=True)
                    if tuple(words[:len(p)]) == p)
        flags = {a for a in argv if a.startswith("--")}
        assert flags <= commands[path], f"{where}: {flags - commands[path]} not in the contract"


def test_the_cli_accepts_the_command_lines_the_containers_run():
    for where, argv in command_lines().items():
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{where}: `consumer {' '.join(argv)}` exits {exc.code}")


def test_toml_keys_are_consumer_run_flags(contract):
    flags = contract.commands()[("run",)]
    assert "`[kafka]` table" in contract.text
    for path in ("deploy/k8s/consumer.toml", "deploy/compose/consumer.toml"):
        settings = tomllib.loads((ROOT / path).read_text())
        tables = {key for key, value in settings.items() if isinstance(value, dict)}
        assert tables == {"kafka"}, path
        for key in set(settings) - tables:
            assert "--" + key.replace("_", "-") in flags, f"{path}: {key}"


def test_the_metrics_port_and_paths_are_the_contracts(contract):
    default = re.search(r"`--metrics-port/CONSUMER_METRICS_PORT`\s*\(default (\d+)", contract.text)
    assert default, "the contract no longer states the metrics port's default"
    port = int(default.group(1))
    assert port == constants.DEFAULT_METRICS_PORT
    assert all(f"`{p}`" in contract.section("## Metrics") for p in ("/healthz", "/readyz"))
    assert "/metrics" in contract.section("## Metrics")

    container = deployment_container()
    [container_port] = container["ports"]
    assert container_port["containerPort"] == port
    probes = {kind: container[kind]["httpGet"] for kind in
              ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: p["path"] for kind, p in probes.items()} == {
        "startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    assert {p["port"] for p in probes.values()} == {container_port["name"]}
    [service_port] = yaml_file("deploy/k8s/service.yaml")["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port, container_port["name"])
    [endpoint] = yaml_file("deploy/k8s/servicemonitor.yaml")["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == (service_port["name"], "/metrics")

    consumer = yaml_file("docker-compose.yml")["services"]["consumer"]
    assert int(consumer["environment"]["CONSUMER_METRICS_PORT"]) == port
    assert f"{port}:{port}" in consumer["ports"]
    [job] = [j for j in yaml_file("deploy/prometheus/prometheus.yml")["scrape_configs"]
             if j["job_name"] == "consumer"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"consumer:{port}"]
    assert re.search(rf"^EXPOSE {port}$", (DEPLOY / "Dockerfile").read_text(), flags=re.M)


def test_the_dead_letter_topic_follows_the_contract_default(contract):
    assert "(default `<topic>.dlq`)" in contract.text
    init = " ".join(yaml_file("docker-compose.yml")["services"]["kafka-init"]["command"])
    assert "for topic in orders orders.dlq;" in init
