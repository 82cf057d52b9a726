"""What ``consumer demo`` shows and found: its story lines and command lines, and the figures of
the run and of the fix-and-replay checked against what it produced, as a table for people and
as JSON, with the list of disagreements that makes the demo fail."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .demo_data import Expected
from .dlq import DeadLetterRecord
from .errors import DemoError


@dataclass(frozen=True)
class Reason:
    category: str
    error_class: str
    count: int
    what: str


@dataclass
class Figures:
    produced: int
    processed: int
    duplicates_dropped: int
    retries: int
    dead_lettered: int
    dead_letters: list[Reason]
    lag: int
    sink_rows: int
    distinct_valid_orders: int
    metrics_url: str


@dataclass
class Replays:
    replayed: int
    processed: int
    sink_rows: int
    distinct_valid_orders: int
    replayed_again: int


@dataclass
class Summary:
    figures: Figures
    replays: Replays | None = None
    seconds: float = 0.0
    """From the stack being up to the end."""
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self.figures), "replay": asdict(self.replays) if self.replays else None,
                "seconds": self.seconds, "ok": not self.problems, "problems": self.problems}

    def check(self, label: str, found: object, expected: object) -> None:
        if found != expected:
            self.problems.append(f"{label} {found}, expected {expected}")

    def check_run(self, expected: Expected) -> None:
        f = self.figures
        self.check("processed", f.processed, expected.processed)
        self.check("duplicates dropped", f.duplicates_dropped, expected.duplicates)
        self.check("dead-lettered", f.dead_lettered, sum(expected.dead_letters.values()))
        self.check("dead letters by reason", _by_reason(f.dead_letters), expected.dead_letters)
        self.check("final lag", f.lag, 0)
        self.check("rows in the sink", f.sink_rows, expected.distinct_valid_orders)

    def check_replays(self, letters: int) -> None:
        r = self.replays
        assert r is not None
        self.check("replayed", r.replayed, letters)
        self.check("processed after the fix", r.processed, letters)
        self.check("rows in the sink after the fix", r.sink_rows, r.distinct_valid_orders)
        self.check("replayed by the second replay", r.replayed_again, 0)

    def raise_problems(self) -> None:
        if self.problems:
            raise DemoError("the figures disagree with what was produced: "
                            + "; ".join(self.problems))


def _by_reason(found: list[Reason]) -> dict[tuple[str, str], int]:
    return {(reason.category, reason.error_class): reason.count for reason in found}


def reasons(letters: list[DeadLetterRecord], what: dict[str, str]) -> list[Reason]:
    """Letters counted by (category, error class); ``what`` names a letter by message id."""
    counted = Counter((letter.category or "?", letter.error_class or "?") for letter in letters)
    said: dict[tuple[str, str], str] = {}
    for letter in letters:
        key = (letter.category or "?", letter.error_class or "?")
        said.setdefault(key, what.get(letter.message_id or "", letter.error_message or ""))
    return [Reason(category, error_class, count, said[(category, error_class)])
            for (category, error_class), count in sorted(counted.items())]


def sink_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM orders").fetchone()[0])
        except sqlite3.OperationalError:  # no table: the handler never ran
            return 0


def step(out: Console, label: str, text: str) -> None:
    """One line of the story: a label, then text that wraps under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=9, style="bold")
    grid.add_column()
    grid.add_row(label, Text(text))
    out.print(grid)


def show_command(out: Console, command: str) -> None:
    """``$ command`` on one line that the terminal wraps, so it pastes whole."""
    out.print(Text(f"$ {command}", style="bold"), soft_wrap=True)


def _mark(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


def figures_table(f: Figures, expected: Expected, dlq_topic: str) -> Table:
    """Fits 80 columns: the longest label is a category with a fully qualified error class."""
    table = Table.grid(padding=(0, 1))
    table.add_column("what", no_wrap=True)
    table.add_column("figure", justify="right", no_wrap=True)
    table.add_column("check", width=1)
    table.add_column("note")
    rows = [
        ("records produced", f.produced, "", ""),
        ("processed", f.processed, _mark(f.processed == expected.processed),
         "every valid order once"),
        ("duplicates dropped", f.duplicates_dropped,
         _mark(f.duplicates_dropped == expected.duplicates), "the re-sent orders"),
        ("retries", f.retries, "", "the handler's bug, retried"),
        ("dead-lettered", f.dead_lettered,
         _mark(_by_reason(f.dead_letters) == expected.dead_letters), f"to {dlq_topic}:"),
    ]
    rows += [(f"  [dim]{r.category}[/dim] {escape(r.error_class)}", r.count, "", escape(r.what))
             for r in f.dead_letters]
    rows += [
        ("final lag", f.lag, _mark(f.lag == 0), "consumer lag, once stopped"),
        ("rows in the SQLite sink", f.sink_rows, _mark(f.sink_rows == f.distinct_valid_orders),
         "= distinct valid orders"),
    ]
    for label, figure, mark, note in rows:
        table.add_row(label, f"{figure:,}", mark, note)
    table.add_row("metrics", "", "", f.metrics_url)
    return table
