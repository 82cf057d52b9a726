"""``consumer dlq inspect`` on a dead-letter topic filled with letters built by ``consumer.dlq``
(the dead-letter topic itself created like its source): the table and ``--json``."""

from __future__ import annotations

import uuid

import pytest

from consumer.errors import DecodeError
from tests.support.dlq import Spec, cli, cli_json, fill_dlq

pytestmark = pytest.mark.integration

SPECS = [Spec(0, 10), Spec(1, 11, "data", DecodeError), Spec(2, 12), Spec(0, 13, "transient",
                                                                           TimeoutError)]


@pytest.fixture(scope="module")
def dlq(bootstrap):
    return fill_dlq(bootstrap, f"orders-inspect-{uuid.uuid4().hex[:8]}", SPECS)


def test_json_lists_every_letter_with_stable_keys_and_its_context(bootstrap, dlq):
    letters = cli_json("dlq", "inspect", "--topic", dlq, "--bootstrap", bootstrap)
    assert len(letters) == len(SPECS)
    assert len({tuple(letter) for letter in letters}) == 1  # same keys, same order
    by_id = {letter["message_id"]: letter for letter in letters}
    source = dlq.removesuffix(".dlq")
    decoded = by_id["m-1"]
    assert decoded["category"] == "data"
    assert decoded["error_class"] == "consumer.errors.DecodeError"
    assert decoded["error_message"] == "failure #1"
    assert (decoded["original_topic"], decoded["original_partition"],
            decoded["original_offset"]) == (source, 1, 11)
    assert decoded["partition"] == 1  # the letter kept its source partition
    assert decoded["attempts"] == 5 and decoded["consumer_group"] == "billing"
    assert decoded["headers"] == {"message-id": "m-1", "tenant": "acme"}
    assert decoded["last_failure"].endswith("Z") and 100 < decoded["age_s"] < 3600
    assert "DecodeError: failure #1" in decoded["stacktrace"]
    assert by_id["m-3"]["error_class"] == "builtins.TimeoutError"


def test_json_filters_by_category_and_limits(bootstrap, dlq):
    handler = cli_json("dlq", "inspect", "--topic", dlq, "--category", "handler",
                       "--bootstrap", bootstrap)
    assert sorted(letter["message_id"] for letter in handler) == ["m-0", "m-2"]
    first = cli_json("dlq", "inspect", "--topic", dlq, "--limit", "1", "--bootstrap", bootstrap)
    assert len(first) == 1


def test_the_table_shows_one_line_per_letter_that_fits_the_terminal(bootstrap, dlq):
    shown = cli("dlq", "inspect", "--topic", dlq, "--bootstrap", bootstrap)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"4 dead letter(s) in {dlq}")
    rows = [line for line in lines if " m-" in line]
    assert len(rows) == 4 and all(len(line) <= 120 for line in lines)
    decoded = next(row for row in rows if " m-1 " in row)
    assert "data" in decoded and "DecodeError: failure #1" in decoded
    assert f"{dlq.removesuffix('.dlq')}[1]@11" in decoded


def test_an_unknown_topic_is_one_line_and_exit_2(bootstrap, unique):
    shown = cli("dlq", "inspect", "--topic", f"missing-{unique}.dlq", "--bootstrap", bootstrap)
    assert shown.returncode == 2
    assert shown.stderr.strip() == (f"consumer dlq: error: topic 'missing-{unique}.dlq' "
                                    f"does not exist")
