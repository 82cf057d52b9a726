"""The two forms of the reliability scenarios: SHORT (what CI runs, tens of seconds each) and
LONG (the issue's sizes and durations), chosen by the environment variable RELIABILITY
(``RELIABILITY=long``; anything else, or nothing, is the short form). Scenarios print their
figures with ``report`` so ``pytest -s`` shows them."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

FORM = "long" if os.environ.get("RELIABILITY", "").strip().lower() == "long" else "short"
LONG = FORM == "long"


def sized(short: T, long: T) -> T:
    """The value for the form this run uses."""
    return long if LONG else short


def report(scenario: str, figures: dict[str, object]) -> None:
    """One block of ``name: value`` lines, headed by the scenario and its form."""
    width = max(len(name) for name in figures)
    lines = [f"[reliability/{FORM}] {scenario}"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in figures.items()]
    print("\n" + "\n".join(lines))
