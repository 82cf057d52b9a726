"""The Grafana dashboard of deploy/grafana is a working dashboard: its JSON parses, every panel
queries the Prometheus chosen by its data-source variable, every query and variable is PromQL
that Prometheus' own parser accepts (`promtool check rules` on them as recording rules), the
latency panels are percentiles from histogram buckets, and no two panels overlap."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "consumer.json"
# What Grafana puts in place of its variables before sending a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s",
                     "$topic": ".*", "$group": ".*"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def queries() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def as_sent(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def test_every_panel_queries_the_selected_prometheus():
    [source] = [v for v in dashboard()["templating"]["list"] if v["type"] == "datasource"]
    assert source["query"] == "prometheus"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": f"${{{source['name']}}}"}
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool not installed (Debian package prometheus)")
def test_every_query_is_promql_prometheus_accepts(tmp_path):
    variables = [v["definition"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    metric_of = {d: re.fullmatch(r"label_values\((\w+), \w+\)", d) for d in variables}
    assert all(metric_of.values()), "a variable query is not label_values(metric, label)"
    expressions = [as_sent(q) for q in queries()] + [m.group(1) for m in metric_of.values() if m]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{n}", "expr": expr} for n, expr in enumerate(expressions)]}]}
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_latency_panels_show_percentiles_from_histogram_buckets():
    for title in ("Processing latency", "End-to-end latency"):
        [panel] = [p for p in panels() if p["title"] == title]
        quantiles = set()
        for target in panel["targets"]:
            found = re.fullmatch(r"histogram_quantile\((0\.\d+), sum by \(le, topic\) "
                                 r"\(rate\((\w+)_bucket\{.*\}\[\$__rate_interval\]\)\)\)",
                                 target["expr"])
            assert found, target["expr"]
            quantiles.add(found.group(1))
        assert quantiles == {"0.5", "0.95", "0.99"}
        assert panel["fieldConfig"]["defaults"]["unit"] == "s"


def test_no_two_panels_overlap():
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(box["x"], box["x"] + box["w"])
                 for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells
