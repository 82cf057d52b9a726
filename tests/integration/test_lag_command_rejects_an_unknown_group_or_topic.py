from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.lag_setup import commit, create_topic, produce_batched

pytestmark = pytest.mark.integration


def run_lag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", "lag", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_group_that_never_committed_is_one_line_and_exit_2(bootstrap, unique):
    shown = run_lag("--group", f"nobody-{unique}", "--bootstrap", bootstrap)
    assert shown.returncode == 2
    assert shown.stderr.strip().splitlines() == [
        f"consumer lag: error: consumer group 'nobody-{unique}' not found: no committed "
        "offsets and no member assigned"]


def test_a_topic_that_does_not_exist_is_one_line_and_exit_2(bootstrap, unique):
    topic, group = f"lag-known-{unique}", f"g-{unique}"
    create_topic(bootstrap, topic, 1)
    produce_batched(bootstrap, topic, {0: [0]})
    commit(bootstrap, group, topic, {0: 1})
    shown = run_lag("--group", group, "--topic", f"missing-{unique}", "--bootstrap", bootstrap)
    assert shown.returncode == 2
    assert shown.stderr.strip() == f"consumer lag: error: topic 'missing-{unique}' does not exist"
    assert "Traceback" not in shown.stderr
    # Asking did not create it (Tansu creates topics named in a metadata request).
    assert run_lag("--group", group, "--topic", f"missing-{unique}",
                   "--bootstrap", bootstrap).returncode == 2
