"""The demo's summary: dead letters counted by reason, figures checked against the plan, a
table that fits an 80-column terminal, and the sink's rows counted."""

from __future__ import annotations

import sqlite3
from dataclasses import fields

import pytest
from rich.console import Console

from consumer.demo_data import DEAD_LETTER_REASONS, plan_orders
from consumer.demo_report import (
    Figures,
    Reason,
    Replays,
    Summary,
    figures_table,
    reasons,
    sink_rows,
)
from consumer.dlq import DeadLetterRecord
from consumer.errors import DemoError

PLAN = plan_orders(3000, run_id="abc123", seed=1, start_ms=0)
EXPECTED = PLAN.expected()


def letter(message_id: str, category: str, error_class: str) -> DeadLetterRecord:
    values = {f.name: None for f in fields(DeadLetterRecord)}
    values.update(partition=0, offset=0, headers=[], replay_count=0, message_id=message_id,
                  category=category, error_class=error_class, error_message="it failed")
    return DeadLetterRecord(**values)


def right_figures() -> Figures:
    found = [Reason(category, error_class, count, "why")
             for (category, error_class), count in sorted(EXPECTED.dead_letters.items())]
    return Figures(produced=len(PLAN.records), processed=EXPECTED.processed,
                   duplicates_dropped=EXPECTED.duplicates, retries=2,
                   dead_lettered=sum(EXPECTED.dead_letters.values()), dead_letters=found, lag=0,
                   sink_rows=EXPECTED.distinct_valid_orders,
                   distinct_valid_orders=EXPECTED.distinct_valid_orders,
                   metrics_url="http://127.0.0.1:9464/metrics")


def test_letters_are_counted_by_category_and_error_class_and_described():
    letters = [letter("a", "data", "consumer.errors.FramingError"),
               letter("b", "data", "consumer.errors.FramingError"),
               letter("c", "handler", "builtins.ValueError")]
    assert reasons(letters, {"a": "bad bytes", "c": "a refund"}) == [
        Reason("data", "consumer.errors.FramingError", 2, "bad bytes"),
        Reason("handler", "builtins.ValueError", 1, "a refund")]


def test_a_letter_the_plan_does_not_know_is_described_by_its_error():
    assert reasons([letter("x", "data", "consumer.errors.DecodeError")], {}) == [
        Reason("data", "consumer.errors.DecodeError", 1, "it failed")]


def test_right_figures_raise_nothing():
    summary = Summary(right_figures())
    summary.check_run(EXPECTED)
    summary.replays = Replays(replayed=1, processed=1, sink_rows=3000,
                              distinct_valid_orders=3000, replayed_again=0)
    summary.check_replays(1)
    summary.raise_problems()
    assert summary.as_json()["ok"] is True


def test_a_wrong_figure_is_named_and_fails_the_demo():
    figures = right_figures()
    figures.processed -= 1
    figures.lag = 7
    summary = Summary(figures)
    summary.check_run(EXPECTED)
    summary.replays = Replays(replayed=1, processed=1, sink_rows=3000,
                              distinct_valid_orders=3000, replayed_again=1)
    summary.check_replays(1)
    assert summary.as_json()["ok"] is False
    with pytest.raises(DemoError) as failure:
        summary.raise_problems()
    text = str(failure.value)
    assert f"processed {EXPECTED.processed - 1}, expected {EXPECTED.processed}" in text
    assert "final lag 7, expected 0" in text
    assert "replayed by the second replay 1, expected 0" in text


def test_a_missing_reason_is_a_problem():
    figures = right_figures()
    figures.dead_letters = [r for r in figures.dead_letters
                            if (r.category, r.error_class) != DEAD_LETTER_REASONS["refund"]]
    summary = Summary(figures)
    summary.check_run(EXPECTED)
    assert any(p.startswith("dead letters by reason") for p in summary.problems)


def test_the_summary_fits_80_columns_and_marks_what_is_wrong():
    console = Console(width=80, record=True, color_system=None)
    figures = right_figures()
    figures.sink_rows += 1
    console.print(figures_table(figures, EXPECTED, "orders.dlq"))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 8 + len(EXPECTED.dead_letters), "a row wrapped"
    assert any(line.startswith("rows in the SQLite sink") and "✗" in line for line in lines)
    assert any(line.startswith("final lag") and "✓" in line for line in lines)


def test_sink_rows_counts_the_orders_table(tmp_path):
    path = tmp_path / "orders.db"
    assert sink_rows(path) == 0
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE other (x)")
    assert sink_rows(path) == 0
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (message_id TEXT PRIMARY KEY)")
        connection.executemany("INSERT INTO orders VALUES (?)", [("a",), ("b",)])
    assert sink_rows(path) == 2
