"""``consumer dlq replay --to`` republishes to the named topic instead of the original one."""

from __future__ import annotations

import pytest

from tests.support.dlq import Spec, cli, cli_json, fill_dlq, read_topic
from tests.support.kafka import create_topic

pytestmark = pytest.mark.integration


def test_to_sends_elsewhere_and_leaves_the_original_topic_alone(bootstrap, unique):
    source, retry_topic = f"orders-to-{unique}", f"orders-retry-{unique}"
    dlq = fill_dlq(bootstrap, source, [Spec(0, 1), Spec(2, 2)])
    create_topic(bootstrap, retry_topic, 1)

    report = cli_json("dlq", "replay", "--topic", dlq, "--to", retry_topic,
                      "--bootstrap", bootstrap)
    assert report["replayed"] == 2
    assert {e["target_topic"] for e in report["letters"]} == {retry_topic}
    moved = read_topic(bootstrap, retry_topic, 1, expect=2)
    assert sorted(r.value() for r in moved) == [b"value-0", b"value-1"]
    assert all(dict(r.headers())["dlq.replay.count"] == b"1" for r in moved)
    assert read_topic(bootstrap, source, 3, expect=0) == []


def test_to_a_missing_topic_is_one_line_and_exit_2(bootstrap, unique):
    dlq = fill_dlq(bootstrap, f"orders-to-missing-{unique}", [Spec(0, 1)])
    shown = cli("dlq", "replay", "--topic", dlq, "--to", f"nowhere-{unique}",
                "--bootstrap", bootstrap)
    assert shown.returncode == 2
    assert shown.stderr.strip() == f"consumer dlq: error: topic 'nowhere-{unique}' does not exist"
