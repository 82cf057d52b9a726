"""``consumer dlq replay --dry-run`` reports what it would replay, and writes and commits
nothing: a real replay afterwards still replays everything."""

from __future__ import annotations

import pytest

from tests.support.dlq import Spec, cli, cli_json, fill_dlq, read_topic
from tests.support.kafka import committed

pytestmark = pytest.mark.integration


def test_dry_run_then_real_run(bootstrap, unique):
    source = f"orders-dry-{unique}"
    dlq = fill_dlq(bootstrap, source, [Spec(0, 1), Spec(1, 2), Spec(2, 3, replays=3)])

    dry = cli_json("dlq", "replay", "--topic", dlq, "--dry-run", "--bootstrap", bootstrap)
    assert dry["dry_run"] is True
    assert (dry["replayed"], dry["skipped_max_replays"]) == (2, 1)
    assert sorted((e["message_id"], e["action"], e["target_topic"]) for e in dry["letters"]) == [
        ("m-0", "would_replay", source), ("m-1", "would_replay", source),
        ("m-2", "skipped_max_replays", None)]
    assert read_topic(bootstrap, source, 3, expect=0) == []
    assert set(committed(bootstrap, f"{dlq}.replay", dlq, range(3)).values()) == {-1001}

    table = cli("dlq", "replay", "--topic", dlq, "--dry-run", "--bootstrap", bootstrap)
    assert table.returncode == 0, table.stderr
    assert "dry run: nothing written, progress not saved" in table.stdout
    assert "would replay 2 letter(s)" in " ".join(table.stdout.split())

    real = cli_json("dlq", "replay", "--topic", dlq, "--bootstrap", bootstrap)
    assert real["replayed"] == 2
    assert len(read_topic(bootstrap, source, 3, expect=2)) == 2
