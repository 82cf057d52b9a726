"""How ``consumer dlq`` shows dead letters: JSON objects with stable keys for scripts, tables
that fit a terminal for people, and a progress bar on stderr while a topic is read."""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .dlq import DeadLetterRecord
from .dlq_replay import ReplayReport
from .output import console, err_console
from .timestamps import iso_utc_ms, short_age


def _iso(epoch_ms: int | None) -> str | None:
    return iso_utc_ms(epoch_ms) if epoch_ms is not None else None


def _text(data: bytes | None) -> str | None:
    return data.decode("utf-8", "backslashreplace") if data is not None else None


def letter_json(letter: DeadLetterRecord, now_ms: int) -> dict[str, Any]:
    """One letter for ``--json``: every key always present, null when unknown."""
    failed_at = letter.failed_at_ms
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "timestamp": _iso(letter.timestamp_ms),
        "message_id": letter.message_id,
        "category": letter.category,
        "error_class": letter.error_class,
        "error_message": letter.error_message,
        "attempts": letter.attempts,
        "original_topic": letter.original_topic,
        "original_partition": letter.original_partition,
        "original_offset": letter.original_offset,
        "original_timestamp": _iso(letter.original_timestamp_ms),
        "consumer_group": letter.consumer_group,
        "first_failure": _iso(letter.first_failure_ms),
        "last_failure": _iso(letter.last_failure_ms),
        "age_s": round((now_ms - failed_at) / 1000, 3) if failed_at is not None else None,
        "host": letter.host,
        "schema_id": letter.schema_id,
        "replay_count": letter.replay_count,
        "key": _text(letter.key),
        "headers": {name: _text(value) for name, value in letter.headers},
        "stacktrace": letter.stacktrace,
    }


def now_ms() -> int:
    return int(time.time() * 1000)


_GAP = 3  # between columns: padding, rule, padding
_FLEX_WANTED = 32
_NARROWEST = 10
_RIGHT_ALIGNED = {"offset", "att", "age"}


def fitted_table(title: str, columns: list[tuple[str, int | None]], rows: list[list[str]],
                 width: int) -> Table:
    """One line per row, ``width`` wide at most. ``columns`` are (header, width it may be cut
    to): None for never (short fixed columns), 0 for the flexible one (the error). When the
    terminal is too narrow, the long columns are cut to their width first, then the flexible
    one to a readable width, then the long ones further, then the flexible one to its
    minimum. Cuts end in an ellipsis, but message ids and origins are cut in the middle: one
    producer's ids often share a prefix, and an origin's partition and offset are its end
    (``_CUTTERS``)."""
    widths = [max([len(header)] + [len(row[i]) for row in rows])
              for i, (header, _) in enumerate(columns)]
    flex = next(i for i, (_, cut_to) in enumerate(columns) if cut_to == 0)
    long = [i for i, (_, cut_to) in enumerate(columns) if cut_to]
    excess = sum(widths) + _GAP * (len(widths) - 1) - width
    for index, floor in ([(i, columns[i][1] or 0) for i in long] + [(flex, _FLEX_WANTED)]
                         + [(i, _NARROWEST) for i in long] + [(flex, 12)]):
        cut = max(0, min(excess, widths[index] - floor))
        widths[index] -= cut
        excess -= cut
    view = Table(title=title, header_style="bold", title_justify="left", box=box.SIMPLE_HEAD,
                 show_edge=False, pad_edge=False)
    for (header, _), column_width in zip(columns, widths, strict=True):
        view.add_column(header, width=column_width, no_wrap=True, overflow="ellipsis",
                        justify="right" if header in _RIGHT_ALIGNED else "left")
    shorteners = [(i, _CUTTERS[header]) for i, (header, _) in enumerate(columns)
                  if header in _CUTTERS]
    for row in rows:
        row = row.copy()
        for i, shorten in shorteners:
            row[i] = shorten(row[i], widths[i])
        # Text, not markup: letters carry arbitrary text such as "[x]".
        view.add_row(*(Text(cell) for cell in row))
    return view


def _cut_middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _cut_topic(origin: str, width: int) -> str:
    """``topic[partition]@offset`` with as much of the topic as fits."""
    where = origin[origin.rfind("["):]
    if len(origin) <= width or len(where) + 2 > width:
        return _cut_middle(origin, width)
    return origin[:width - 1 - len(where)] + "…" + where


_CUTTERS = {"message id": _cut_middle, "original": _cut_topic}


_LETTER_COLUMNS: list[tuple[str, int | None]] = [
    ("offset", None), ("message id", 24), ("category", None), ("error", 0), ("att", None),
    ("original", 30), ("age", None)]


def letters_table(title: str, letters: Iterable[DeadLetterRecord], now: int,
                  width: int) -> Table:
    return fitted_table(title, _LETTER_COLUMNS, [_letter_cells(x, now) for x in letters], width)


def _letter_cells(letter: DeadLetterRecord, now: int) -> list[str]:
    error_class = (letter.error_class or "?").rpartition(".")[2]
    message = letter.error_message.splitlines()[0] if letter.error_message else ""
    original = (f"{letter.original_topic}[{letter.original_partition}]@"
                f"{letter.original_offset}" if letter.original_topic else "")
    failed_at = letter.failed_at_ms
    return [f"{letter.partition}:{letter.offset}", letter.message_id or "",
            letter.category or "", f"{error_class}: {message}" if message else error_class,
            "" if letter.attempts is None else str(letter.attempts), original,
            short_age((now - failed_at) / 1000) if failed_at is not None else ""]


def replay_json(report: ReplayReport) -> dict[str, Any]:
    return {"topic": report.topic, "group": report.group, "dry_run": report.dry_run,
            "replayed": report.replayed, "skipped_max_replays": report.skipped_max_replays,
            "skipped_no_target": report.skipped_no_target, "not_matching": report.not_matching,
            "unconfirmed_partitions": report.unconfirmed_partitions, "letters": report.letters}


def print_replay_summary(report: ReplayReport) -> None:
    if report.dry_run and report.letters:
        columns: list[tuple[str, int | None]] = [
            ("offset", None), ("message id", 24), ("category", None), ("error class", 0),
            ("to", 30), ("action", None)]
        rows = [[f"{e['partition']}:{e['offset']}", e["message_id"] or "", e["category"] or "",
                 e["error_class"] or "", e["target_topic"] or "", e["action"]]
                for e in report.letters]
        console.print(fitted_table("dry run: nothing written, progress not saved", columns,
                                   rows, console.width))
    verb = "would replay" if report.dry_run else "replayed"
    console.print(f"{verb} {report.replayed} letter(s) of {report.topic} "
                  f"(progress group {report.group}); skipped {report.skipped_max_replays} "
                  f"over --max-replays and {report.skipped_no_target} without a target; "
                  f"{report.not_matching} did not match the filters")


class ReadProgress:
    """A progress bar on stderr (so ``--json`` stays clean), gone once the work is done. It
    satisfies ``dlq_replay.Progress``."""

    def __init__(self, description: str) -> None:
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                             transient=True)
        self._task = self._bar.add_task(description, total=None)
        self.completed = 0

    def __enter__(self) -> ReadProgress:
        self._bar.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.stop()

    def total(self, letters: int) -> None:
        self._bar.update(self._task, total=letters)

    def advance(self, letters: int) -> None:
        self.completed += letters
        self._bar.advance(self._task, letters)

    def warn(self, text: str) -> None:
        self._bar.console.print(f"[yellow]warning:[/yellow] {escape(text)}", highlight=False)
