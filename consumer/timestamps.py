"""Times as users type them (ISO-8601 or epoch milliseconds) and as headers carry them
(ISO-8601 UTC with milliseconds and a ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time_ms(text: str) -> int:
    """Epoch milliseconds from ISO-8601 (no zone = UTC) or from epoch milliseconds; raises
    ``ValueError`` naming the text otherwise."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO-8601 nor epoch milliseconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def iso_utc_ms(epoch_ms: int) -> str:
    """``2026-11-22T09:15:02.123Z``."""
    # Whole seconds and milliseconds apart: epoch_ms / 1000 as a float can land a hair
    # below the millisecond and print one less.
    seconds, millis = divmod(epoch_ms, 1000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_age(seconds: float) -> str:
    """``42s``, ``5m12s``, ``3h04m``, ``12d03h``: an age that fits a table column."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
