"""`consumer schemas ...` as a team runs it, through `python -m consumer`: register, the CI
check (exit 0 compatible, 1 incompatible with reasons), list, show, compat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def cli(*args: str, registry: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args, "--registry", registry],
                          capture_output=True, text=True, timeout=60,
                          env={"CONSUMER_HOME": str(home), "PATH": "/usr/bin:/bin",
                               "COLUMNS": "200"})


def test_register_check_and_inspect(registry_url, unique, tmp_path):
    subject = f"orders-{unique}-value"
    run = lambda *a: cli(*a, registry=registry_url, home=tmp_path)  # noqa: E731

    first = run("schemas", "register", str(SCHEMAS / "orders-v1.avsc"), "--subject", subject,
                "--json")
    assert first.returncode == 0, first.stderr
    registered = json.loads(first.stdout)
    assert registered["version"] == 1 and registered["id"] > 0

    ok = run("schemas", "check", str(SCHEMAS / "orders-v2.avsc"), "--subject", subject)
    assert ok.returncode == 0 and "compatible" in ok.stdout

    refused = run("schemas", "check", str(SCHEMAS / "orders-v3.avsc"), "--subject", subject)
    assert refused.returncode == 1
    assert "incompatible" in refused.stderr
    assert "reader field 'warehouse_id'" in refused.stderr  # says what broke

    as_json = run("schemas", "check", str(SCHEMAS / "orders-v3.avsc"), "--subject", subject,
                  "--json")
    verdict = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and verdict["compatible"] is False
    assert verdict["level"] == "BACKWARD" and len(verdict["messages"]) == 2

    blocked = run("schemas", "register", str(SCHEMAS / "orders-v3.avsc"), "--subject", subject)
    assert blocked.returncode == 1 and "warehouse_id" in blocked.stderr

    second = run("schemas", "register", str(SCHEMAS / "orders-v2.avsc"), "--subject", subject,
                 "--json")
    assert json.loads(second.stdout)["version"] == 2

    listed = json.loads(run("schemas", "list", "--json").stdout)
    mine = next(row for row in listed if row["subject"] == subject)
    assert (mine["latest"], mine["versions"], mine["compatibility"]) == (2, [1, 2], "BACKWARD")

    shown = json.loads(run("schemas", "show", subject, "--version", "1", "--json").stdout)
    assert shown["id"] == registered["id"] and shown["schema"]["name"] == "Order"
    assert len(shown["schema"]["fields"]) == 8

    assert json.loads(run("schemas", "compat", subject, "--json").stdout) == {
        "subject": subject, "compatibility": "BACKWARD", "subject_level": False}
    assert run("schemas", "compat", subject, "--level", "full").returncode == 0
    assert json.loads(run("schemas", "compat", subject, "--json").stdout)["compatibility"] == "FULL"
