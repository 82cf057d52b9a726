"""``consumer demo`` on a machine of its own (CONSUMER_HOME in a temporary folder, so it starts
its own embedded stack): it ends with every figure right, lag 0, the fix replayed once, and no
consumer left behind; run again on the same stack, it ends with the same figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.demo_data import DEAD_LETTER_REASONS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
ORDERS = 3000
DUPLICATES = 90   # 3% re-sent


def demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", "demo", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=150)


def consumers_left(home: Path) -> list[int]:
    """``consumer run`` processes started under this CONSUMER_HOME and still alive."""
    left = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in cmdline and b"consumer" in cmdline and \
                f"CONSUMER_HOME={home}".encode() in environ:
            left.append(int(proc.name))
    return left


def test_the_demo_ends_right_twice_in_a_row(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "CONSUMER_HOME": str(home), "COLUMNS": "80"}
    for name in ("CONSUMER_BOOTSTRAP", "CONSUMER_REGISTRY_URL", "CONSUMER_REDIS_URL"):
        env.pop(name, None)
    try:
        first = demo(env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "Traceback" not in first.stderr
        lines = first.stdout.splitlines()
        for row in (rf"processed\s+{ORDERS - 1:,} ✓ every valid order once",
                    rf"duplicates dropped\s+{DUPLICATES} ✓ the re-sent orders",
                    r"dead-lettered\s+4 ✓ to orders\.dlq:",
                    r"final lag\s+0 ✓ consumer lag, once stopped",
                    rf"rows in the SQLite sink\s+{ORDERS - 1:,} ✓ = distinct valid orders",
                    r"replayed 1 letter\(s\) to orders .*", r"replayed 0 letter\(s\) to orders .*"):
            assert any(re.fullmatch(row, line.strip()) for line in lines), row
        assert lines[-1].startswith("all figures check out")
        assert max(len(line) for line in lines if not line.startswith(("$ ", "  "))) <= 80
        assert not consumers_left(home)

        second = demo(env, "--json")  # same stack: topics, group and sink started afresh
        assert second.returncode == 0, second.stderr[-3000:]
        summary = json.loads(second.stdout)
        assert summary["ok"] is True, summary["problems"]
        assert summary["produced"] == ORDERS + DUPLICATES + 3
        assert summary["processed"] == ORDERS - 1
        assert summary["duplicates_dropped"] == DUPLICATES
        assert summary["dead_lettered"] == 4
        assert {(r["category"], r["error_class"]): r["count"] for r in summary["dead_letters"]} \
            == {reason: 1 for reason in DEAD_LETTER_REASONS.values()}
        assert summary["lag"] == 0
        assert summary["sink_rows"] == summary["distinct_valid_orders"] == ORDERS - 1
        assert summary["replay"] == {"replayed": 1, "processed": 1, "sink_rows": ORDERS,
                                     "distinct_valid_orders": ORDERS, "replayed_again": 0}
        assert not consumers_left(home)
    finally:
        subprocess.run([sys.executable, "-m", "consumer", "dev", "down"], cwd=REPO, env=env,
                       capture_output=True, timeout=60)
