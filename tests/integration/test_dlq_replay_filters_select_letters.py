"""``--category``, ``--error-class``, ``--since``/``--until`` and ``--limit`` choose what a replay
republishes; a filtered replay keeps its own progress, so letters it passed over are still
there for a later replay of the rest."""

from __future__ import annotations

import pytest

from consumer.errors import DecodeError
from tests.support.dlq import NOW_MS, Spec, cli_json, fill_dlq, read_topic

pytestmark = pytest.mark.integration

SPECS = [Spec(0, 1, "data", DecodeError), Spec(0, 2, "handler", KeyError),
         Spec(1, 3, "handler", ValueError), Spec(1, 4, "data", DecodeError),
         Spec(2, 5, "transient", TimeoutError)]


def replay(bootstrap: str, dlq: str, *args: str) -> dict:
    return cli_json("dlq", "replay", "--topic", dlq, "--bootstrap", bootstrap, *args)


def ids(report: dict) -> list[str]:
    return sorted(e["message_id"] for e in report["letters"] if e["action"] == "replayed")


def test_filters_and_limit(bootstrap, unique):
    source = f"orders-filters-{unique}"
    dlq = fill_dlq(bootstrap, source, SPECS)

    data = replay(bootstrap, dlq, "--category", "data")
    assert ids(data) == ["m-0", "m-3"] and data["not_matching"] == 3
    assert replay(bootstrap, dlq, "--category", "data")["replayed"] == 0

    by_class = replay(bootstrap, dlq, "--error-class", "builtins.KeyError")
    assert ids(by_class) == ["m-1"]
    assert ids(replay(bootstrap, dlq, "--error-class", "ValueError")) == ["m-2"]

    # last failures are NOW-120000+index: m-3 and m-4 are at or after NOW-119997.
    window = replay(bootstrap, dlq, "--since", str(NOW_MS - 119_997), "--until",
                    str(NOW_MS - 119_996))
    assert ids(window) == ["m-3"]

    first_two = replay(bootstrap, dlq, "--limit", "2")
    assert first_two["replayed"] == 2
    rest = replay(bootstrap, dlq)
    assert rest["replayed"] == 3
    assert sorted(ids(first_two) + ids(rest)) == [f"m-{i}" for i in range(5)]

    # 2 + 1 + 1 + 1 filtered, then all 5 by the plain replay group.
    assert len(read_topic(bootstrap, source, 3, expect=10)) == 10
