"""``consumer lag --watch`` keeps reading the broker until Ctrl-C; ``--max-lag`` then decides
the exit status from the last reading."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.support.lag_setup import commit, create_topic, produce_batched

pytestmark = pytest.mark.integration


def watch(bootstrap: str, group: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "consumer", "lag", "--group", group, "--watch", "--interval",
         "0.3", "--bootstrap", bootstrap, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def lagging_group(bootstrap, unique):
    topic, group = f"lag-watch-{unique}", f"g-{unique}"
    create_topic(bootstrap, topic, 1)
    produce_batched(bootstrap, topic, {0: [int(time.time() * 1000)] * 5})
    commit(bootstrap, group, topic, {0: 2})
    return topic, group


def test_json_lines_follow_new_records_and_ctrl_c_reports_the_last_verdict(bootstrap,
                                                                             lagging_group):
    topic, group = lagging_group
    proc = watch(bootstrap, group, "--json", "--max-lag", "3")
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())
        assert first["total_lag_messages"] == 3
        produce_batched(bootstrap, topic, {0: [int(time.time() * 1000)] * 4})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if json.loads(proc.stdout.readline())["total_lag_messages"] == 7:
                break
        else:
            pytest.fail("the watch never showed the new records")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(15)
    assert code == 1  # the last reading (7) is over --max-lag 3
    assert "Traceback" not in proc.stderr.read()


def test_the_live_table_stops_cleanly_on_ctrl_c(bootstrap, lagging_group):
    _, group = lagging_group
    proc = watch(bootstrap, group)
    time.sleep(2)  # a few refreshes at 0.3 s
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"consumer group {group}" in out and "total lag 3 messages" in out
