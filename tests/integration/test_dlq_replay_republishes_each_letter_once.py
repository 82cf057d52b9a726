"""``consumer dlq replay`` republishes every letter to its original topic and partition, with
the dlq.* headers gone and the replay counted; a second run replays nothing."""

from __future__ import annotations

import pytest

from tests.support.dlq import Spec, cli, cli_json, fill_dlq, read_topic
from tests.support.kafka import committed

pytestmark = pytest.mark.integration

SPECS = [Spec(0, 10), Spec(1, 11, "data"), Spec(2, 12), Spec(0, 13), Spec(1, 14, replays=1)]


def test_replay_once_then_nothing_new(bootstrap, unique):
    source = f"orders-replay-{unique}"
    dlq = fill_dlq(bootstrap, source, SPECS)

    first = cli_json("dlq", "replay", "--topic", dlq, "--bootstrap", bootstrap)
    assert (first["replayed"], first["group"]) == (5, f"{dlq}.replay")
    assert {letter["action"] for letter in first["letters"]} == {"replayed"}

    republished = read_topic(bootstrap, source, 3, expect=5)
    assert sorted(r.value() for r in republished) == [f"value-{i}".encode() for i in range(5)]
    for record in republished:
        index = int(record.value().decode().rsplit("-", 1)[1])
        assert record.key() == f"key-{index}".encode()
        assert record.partition() == SPECS[index].partition
        assert record.headers() == [("message-id", f"m-{index}".encode()), ("tenant", b"acme"),
                                    ("dlq.replay.count",
                                     str(SPECS[index].replays + 1).encode())]
    assert committed(bootstrap, f"{dlq}.replay", dlq, range(3)) == {0: 2, 1: 2, 2: 1}

    second = cli_json("dlq", "replay", "--topic", dlq, "--bootstrap", bootstrap)
    assert second["replayed"] == 0 and second["letters"] == []
    assert len(read_topic(bootstrap, source, 3, expect=5)) == 5


def test_the_summary_names_the_group_and_the_counts(bootstrap, unique):
    source = f"orders-summary-{unique}"
    dlq = fill_dlq(bootstrap, source, SPECS[:2])
    shown = cli("dlq", "replay", "--topic", dlq, "--bootstrap", bootstrap)
    assert shown.returncode == 0, shown.stderr
    assert " ".join(shown.stdout.split()).startswith(
        f"replayed 2 letter(s) of {dlq} (progress group {dlq}.replay)")
