"""`consumer dev up --json` starts the registry with the broker and Redis and prints all three
addresses; the registry it starts keeps its data in the stack's state folder across a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def dev(action: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", "dev", action,
                           *(["--json"] if action == "up" else [])],
                          capture_output=True, text=True, timeout=120,
                          env={"CONSUMER_HOME": str(home), "PATH": "/usr/bin:/bin"})


def test_dev_up_prints_the_registry_and_keeps_its_data(tmp_path):
    schema = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})
    try:
        up = dev("up", tmp_path)
        assert up.returncode == 0, up.stderr
        addresses = json.loads(up.stdout)
        assert set(addresses) == {"bootstrap", "registry", "redis"}
        assert addresses["registry"].startswith("http://127.0.0.1:")
        registered = httpx.post(f"{addresses['registry']}/subjects/dev-check/versions",
                                json={"schema": schema}, timeout=10).json()

        assert dev("down", tmp_path).returncode == 0
        again = json.loads(dev("up", tmp_path).stdout)
        answer = httpx.get(f"{again['registry']}/subjects/dev-check/versions/latest", timeout=10)
        assert answer.json()["id"] == registered["id"]
        assert (tmp_path / "dev" / "registry.db").is_file()
    finally:
        dev("down", tmp_path)
