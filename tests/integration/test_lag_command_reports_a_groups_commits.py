"""``consumer lag`` on a group that is not running: its commits, read from the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from consumer.cli import main
from tests.support.lag_setup import commit, create_topic, produce_batched

pytestmark = pytest.mark.integration


@pytest.fixture
def group_with_commits(bootstrap, unique):
    topic, group = f"lag-cli-{unique}", f"billing-{unique}"
    create_topic(bootstrap, topic, 3)
    old_ms = int(time.time() * 1000) - 90_000
    ends = produce_batched(bootstrap, topic, {0: [old_ms] * 8, 1: [old_ms] * 4, 2: [old_ms] * 2})
    commit(bootstrap, group, topic, {0: 3, 1: 4})
    return topic, group, ends


def test_json_lists_every_partition_with_its_commit_end_and_lag(bootstrap, group_with_commits,
                                                                 capsys):
    topic, group, ends = group_with_commits
    assert main(["lag", "--group", group, "--json", "--bootstrap", bootstrap]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["partition"]: row for row in report["partitions"]}
    assert {p: row["high_watermark"] for p, row in rows.items()} == ends
    assert [(rows[p]["committed"], rows[p]["lag_messages"]) for p in (0, 1, 2)] == [
        (3, ends[0] - 3), (4, 0), (None, ends[2])]
    assert rows[0]["lag_seconds"] == pytest.approx(90, abs=20)
    assert rows[1]["lag_seconds"] == 0.0
    assert report["total_lag_messages"] == ends[0] - 3 + ends[2]
    assert {row["topic"] for row in report["partitions"]} == {topic}


def test_max_lag_exits_1_above_the_limit_and_0_at_it(bootstrap, group_with_commits, capsys):
    topic, group, ends = group_with_commits
    worst = ends[0] - 3
    base = ["lag", "--group", group, "--topic", topic, "--bootstrap", bootstrap, "--json"]
    assert main([*base, "--max-lag", str(worst)]) == 0
    assert main([*base, "--max-lag", str(worst - 1)]) == 1
    assert f"{topic}/0: {worst}" in capsys.readouterr().err


def test_the_table_shows_the_same_figures_in_a_terminal(bootstrap, group_with_commits):
    topic, group, ends = group_with_commits
    shown = subprocess.run(
        [sys.executable, "-m", "consumer", "lag", "--group", group, "--bootstrap", bootstrap],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"})
    assert shown.returncode == 0, shown.stderr
    rows = [line.replace("│", " ").split() for line in shown.stdout.splitlines()
            if line.startswith("│") and topic in line]
    assert [row[1:5] for row in rows] == [
        ["0", "3", str(ends[0]), str(ends[0] - 3)], ["1", "4", str(ends[1]), "0"],
        ["2", "-", str(ends[2]), str(ends[2])]]
    assert f"total lag {ends[0] - 3 + ends[2]} messages" in shown.stdout
