"""``dlq.replay.count`` ends replay cycles: letters replayed ``--max-replays`` times already are
skipped with a warning, and their progress passes them."""

from __future__ import annotations

import pytest

from tests.support.dlq import Spec, cli, fill_dlq, read_topic

pytestmark = pytest.mark.integration


def test_max_replays_skips_with_a_warning(bootstrap, unique):
    source = f"orders-cycles-{unique}"
    dlq = fill_dlq(bootstrap, source, [Spec(0, 1, replays=2), Spec(0, 2, replays=1),
                                       Spec(0, 3, replays=0)])
    shown = cli("dlq", "replay", "--topic", dlq, "--max-replays", "2", "--bootstrap", bootstrap)
    assert shown.returncode == 0, shown.stderr
    warning = " ".join(shown.stderr.split())
    assert "warning: skipped letter 0:0 (message id m-0): replayed 2 times already " \
           "(--max-replays 2)" in warning
    assert "replayed 2 letter(s)" in " ".join(shown.stdout.split())
    republished = read_topic(bootstrap, source, 3, expect=2)
    assert sorted(r.value() for r in republished) == [b"value-1", b"value-2"]

    again = cli("dlq", "replay", "--topic", dlq, "--max-replays", "5", "--bootstrap", bootstrap)
    assert "replayed 0 letter(s)" in " ".join(again.stdout.split())  # progress passed it
