"""Bad input to `consumer schemas`: an invalid schema, a file that is not there, an unknown
subject, a bad level, a registry that does not answer: one line on stderr, exit 2, no
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def cli(*args: str, registry: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args, "--registry", registry],
                          capture_output=True, text=True, timeout=60,
                          env={"CONSUMER_HOME": str(home), "PATH": "/usr/bin:/bin",
                               "COLUMNS": "200"})


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(registry_url, unique, tmp_path):
    run = lambda *a: cli(*a, registry=registry_url, home=tmp_path)  # noqa: E731
    bad_default = tmp_path / "bad.avsc"
    bad_default.write_text(json.dumps({"type": "record", "name": "R", "fields": [
        {"name": "s", "type": "string", "default": None}]}))
    not_json = tmp_path / "not.avsc"
    not_json.write_text("{nope")

    assert "invalid default for field 's'" in one_line_error(
        run("schemas", "register", str(bad_default), "--subject", f"x-{unique}"))
    assert "not valid JSON" in one_line_error(
        run("schemas", "check", str(not_json), "--subject", f"x-{unique}"))
    assert "cannot read" in one_line_error(
        run("schemas", "register", str(tmp_path / "missing.avsc"), "--subject", f"x-{unique}"))
    assert "not found" in one_line_error(run("schemas", "show", f"none-{unique}"))
    assert "--level" in one_line_error(run("schemas", "compat", "s", "--level", "SIDEWAYS"))
    assert "--subject" in one_line_error(run("schemas", "register", str(bad_default)))
    unreachable = cli("schemas", "list", registry="http://127.0.0.1:9", home=tmp_path)
    assert "did not answer" in one_line_error(unreachable)
