"""Watching the demo's consumer until everything it was given is settled: a live display of its
outcome counters (from its /metrics) and of the group's lag (read from the broker, as
``consumer lag`` reads it), ending once every message has an outcome and the lag is 0."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from .cmd_lag import GroupLag
from .constants import OUTCOME_DEAD_LETTERED, OUTCOME_DUPLICATE, OUTCOME_PROCESSED, OUTCOME_RETRIED
from .demo_member import Member
from .errors import DemoError, NotFoundError, ServiceUnavailable

TICK_S = 0.25
SETTLED = (OUTCOME_PROCESSED, OUTCOME_DUPLICATE, OUTCOME_DEAD_LETTERED)


@dataclass(frozen=True)
class Settled:
    counts: Counter[str]
    lag: int
    elapsed_s: float


def settled_count(counts: Counter[str]) -> int:
    """Messages with a final outcome; a retry is not one."""
    return sum(counts[outcome] for outcome in SETTLED)


def stats_line(counts: Counter[str] | None, lag: int | None) -> Text:
    if counts is None:
        return Text("starting: waiting for the consumer's metrics and its group to form…",
                    style="dim")
    lag_text = "…" if lag is None else f"{lag:,}"
    return Text.assemble(
        ("processed ", "dim"), (f"{counts[OUTCOME_PROCESSED]:,}", "green"),
        (" · duplicates ", "dim"), f"{counts[OUTCOME_DUPLICATE]:,}",
        (" · retries ", "dim"), f"{counts[OUTCOME_RETRIED]:,}",
        (" · dead-lettered ", "dim"), (f"{counts[OUTCOME_DEAD_LETTERED]:,}", "yellow"),
        (" · lag ", "dim"), lag_text)


class _SettleProgress(Progress):
    """A progress bar with the counters on a line of their own, to fit 80 columns."""

    stats: RenderableType = Text()

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield self.stats


def read_lag(view: GroupLag) -> int | None:
    """Messages the group has not committed yet; None before its first commit."""
    try:
        return sum(lag.lag_messages for lag in view.read())
    except (NotFoundError, ServiceUnavailable):
        return None


def watch(member: Member, view: GroupLag, *, total: int, description: str, console: Console,
          timeout_s: float) -> Settled:
    """Returns once ``total`` messages are settled and the lag is 0; ``DemoError`` when the
    consumer exits first or does not get there within ``timeout_s``."""
    started = time.monotonic()
    progress = _SettleProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                               MofNCompleteColumn(), TextColumn("settled"), TimeElapsedColumn(),
                               console=console)
    task = progress.add_task(description, total=total)
    counts: Counter[str] | None = None
    lag: int | None = None
    with progress:
        while True:
            status = member.exit_status
            if status is not None:
                raise DemoError(f"the consumer exited with status {status} before it was done; "
                                f"its log {member.log_path} ends: {member.last_log_line()}")
            scraped = member.counts()
            if scraped is not None:  # else keep the last figures: one scrape may time out
                counts = scraped
            lag = read_lag(view) if counts is not None else None
            settled = settled_count(counts) if counts is not None else 0
            progress.stats = stats_line(counts, lag)
            progress.update(task, completed=min(settled, total))
            if counts is not None and settled >= total and lag == 0:
                return Settled(counts, lag, time.monotonic() - started)
            if time.monotonic() - started > timeout_s:
                raise DemoError(f"not settled after {timeout_s:.0f}s ({settled} of {total} "
                                f"messages, lag {lag}); see the consumer's log {member.log_path}")
            time.sleep(TICK_S)
