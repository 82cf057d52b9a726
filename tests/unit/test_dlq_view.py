"""What ``consumer dlq`` prints: JSON with stable keys, tables that fit the terminal."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from consumer.dlq import DeadLetterRecord
from consumer.dlq_view import letter_json, letters_table

NOW_MS = 1795305723456 + 90_000
LETTER = DeadLetterRecord(
    partition=2, offset=1234, timestamp_ms=1795305723460, key=b"customer-7", value=b"\x00",
    headers=[("message-id", b"m-1")], original_topic="orders.eu-west.payments",
    original_partition=11, original_offset=987654, original_timestamp_ms=1795305500000,
    consumer_group="billing", message_id="8f1c2a6e-9d4b-4f7a-b0c3-5e2d1a9f8b7c",
    category="handler", error_class="payments.gateway.GatewayRejected",
    error_message="card [declined] for order 77: insufficient funds\nsecond line",
    stacktrace="Traceback ...", attempts=5, first_failure_ms=1795305600000,
    last_failure_ms=1795305723456, host="worker-3", schema_id=7, replay_count=1)

KEYS = ["partition", "offset", "timestamp", "message_id", "category", "error_class",
        "error_message", "attempts", "original_topic", "original_partition", "original_offset",
        "original_timestamp", "consumer_group", "first_failure", "last_failure", "age_s",
        "host", "schema_id", "replay_count", "key", "headers", "stacktrace"]


def test_json_has_every_key_in_a_fixed_order():
    shown = letter_json(LETTER, NOW_MS)
    assert list(shown) == KEYS
    assert shown["last_failure"] == "2026-11-22T00:02:03.456Z"
    assert shown["age_s"] == 90.0
    assert shown["headers"] == {"message-id": "m-1"} and shown["key"] == "customer-7"


def test_json_of_a_letter_without_context_keeps_the_keys_as_nulls():
    bare = replace(LETTER, original_topic=None, original_partition=None, attempts=None,
                   last_failure_ms=None, timestamp_ms=None, first_failure_ms=None,
                   key=b"\xff\xfe")
    shown = letter_json(bare, NOW_MS)
    assert list(shown) == KEYS
    assert shown["age_s"] is None and shown["original_topic"] is None
    assert shown["key"] == "\\xff\\xfe"


def render(width: int, letters: list[DeadLetterRecord]) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False)
    console.print(letters_table("letters", letters, NOW_MS, width))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_the_table_fits_the_terminal(width):
    lines = render(width, [LETTER, replace(LETTER, offset=7, message_id="short")])
    assert all(len(line) <= width for line in lines)
    assert len(lines) == 5  # title, header, rule, one line per letter


def test_a_wide_terminal_shows_the_whole_first_line_of_the_error():
    row = render(200, [LETTER])[-1]
    assert "GatewayRejected: card [declined] for order 77: insufficient funds" in row
    assert "second line" not in row
    assert "orders.eu-west.payments[11]@987654" in row and "1m30s" in row


def test_an_80_column_terminal_keeps_offset_category_attempts_and_age():
    row = render(80, [LETTER])[-1]
    for cell in ("2:1234", "handler", " 5 ", "1m30s"):
        assert cell in row
    assert "GatewayRejected" in row and "…" in row


def test_a_cut_message_id_or_origin_keeps_its_start_and_its_end():
    # One producer's ids share a prefix: cut at the end, the demo's four letters all read
    # "ord-e38314-p…". An origin's partition and offset are its end.
    letters = [replace(LETTER, offset=n, message_id=f"ord-e38314-poison-{n}",
                       original_topic="orders.eu-west", original_partition=3,
                       original_offset=561) for n in (1, 2)]
    rows = render(80, letters)[-2:]
    for n, row in zip((1, 2), rows, strict=True):
        cell = row.split()[1]
        assert cell.startswith("ord-") and cell.endswith(f"-{n}") and "…" in cell, row
        assert "…[3]@561" in row and "orders.eu-west" not in row, row
