"""Logging set up once by the CLI: one JSON object per line for log collectors, or a compact
human format for terminals.

Every line carries the message it is about (``topic``, ``partition``, ``offset``,
``message_id``) when the runtime has bound one with ``bind_message()`` or the call passed them
in ``extra``, and the ``trace_id``/``span_id`` of the current span, so logs and traces join.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

from .constants import ENV_LOG_FORMAT, ENV_LOG_LEVEL
from .errors import ConfigError

FORMATS = ("json", "human", "auto")
MESSAGE_FIELDS = ("topic", "partition", "offset", "message_id")
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_bound: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "consumer_log_message", default=None)


@contextmanager
def bind_message(topic: str, partition: int, offset: int, message_id: str) -> Iterator[None]:
    """Log lines written inside (in this thread or task) name this message."""
    token = _bound.set({"topic": topic, "partition": partition, "offset": offset,
                        "message_id": message_id})
    try:
        yield
    finally:
        _bound.reset(token)


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The message and trace ids a line is about: ``extra`` first, then the bound message,
    then the current span."""
    fields: dict[str, Any] = dict(_bound.get() or {})
    for name in MESSAGE_FIELDS:
        if name in record.__dict__:
            fields[name] = record.__dict__[name]
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        fields["trace_id"] = format(span_context.trace_id, "032x")
        fields["span_id"] = format(span_context.span_id, "016x")
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                  .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(context_fields(record))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """``12:00:01.234 INFO  consumer.runtime: text [orders/3@1042 id=abc trace=4bf9…]``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s",
                         datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = context_fields(record)
        where = []
        if "topic" in fields:
            where.append(f"{fields['topic']}/{fields.get('partition', '?')}"
                         f"@{fields.get('offset', '?')}")
        if "message_id" in fields:
            where.append(f"id={fields['message_id']}")
        if "trace_id" in fields:
            where.append(f"trace={fields['trace_id']}")
        if not where:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(where)}]{newline}{rest}"


class _Handler(logging.StreamHandler[TextIO]):
    """Ours, so a second ``setup_logging()`` replaces it and leaves other handlers alone."""


def setup_logging(log_format: str | None = None, level: str | None = None,
                  stream: TextIO | None = None) -> logging.Handler:
    """Routes the root logger to ``stream`` (stderr) in ``log_format`` (``json``, ``human``, or
    ``auto``: human on a terminal, JSON otherwise; env ``CONSUMER_LOG_FORMAT``) at ``level``
    (env ``CONSUMER_LOG_LEVEL``, default INFO). Calling it again replaces the previous setup."""
    chosen = (log_format or os.environ.get(ENV_LOG_FORMAT) or "auto").lower()
    if chosen not in FORMATS:
        raise ConfigError(f"log format {chosen!r} is not one of {', '.join(FORMATS)}")
    level_name = (level or os.environ.get(ENV_LOG_LEVEL) or "INFO").upper()
    if not isinstance(logging.getLevelNamesMapping().get(level_name), int):
        raise ConfigError(f"log level {level_name!r} is not one of DEBUG, INFO, WARNING, ERROR")
    target = stream if stream is not None else sys.stderr
    if chosen == "auto":
        chosen = "human" if target.isatty() else "json"
    handler = _Handler(target)
    handler.setFormatter(JsonFormatter() if chosen == "json" else HumanFormatter())
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level_name)
    return handler
