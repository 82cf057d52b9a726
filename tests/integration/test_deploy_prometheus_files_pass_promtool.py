"""deploy/prometheus passes Prometheus' own checks: the alert rules load (`promtool check
rules`), docker-compose's Prometheus config loads with them (`promtool check config`), and the
rules' unit tests pass (`promtool test rules deploy/prometheus/alerts_test.yml`), where each
alert fires on the series its situation produces and stays silent on the others."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None,
                                    reason="promtool not installed (Debian package prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=60)


@needs_promtool
def test_alert_rules_pass_promtool_check_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_compose_prometheus_config_passes_promtool_check_config_with_its_rules():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # The config really loads alerts.yml (a rule_files entry that matched nothing would pass).
    rule_files = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["rule_files"]
    assert rule_files == ["alerts.yml"]
    assert "1 rule files found" in result.stdout


@needs_promtool
def test_each_alert_fires_on_its_series_in_promtool_test_rules():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_case_in_the_unit_tests():
    alerts = {rule["alert"]
              for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
              for rule in group["rules"] if "alert" in rule}
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    proven = {case["alertname"] for test in tests for case in test["alert_rule_test"]
              if case.get("exp_alerts")}
    assert alerts - proven == set(), "alerts without a test showing them fire"


def test_every_alert_carries_a_severity_a_summary_and_a_description():
    for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert rule["annotations"]["summary"].strip(), rule["alert"]
            assert len(rule["annotations"]["description"]) > 40, rule["alert"]
