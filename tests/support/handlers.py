"""Handlers the integration tests run inside real ``consumer run`` processes. They write one
line per event with a single O_APPEND write, so lines survive kill -9 and never interleave.

Environment: RECORD_FILE (required), HANDLER_DELAY_S (default 0), FAIL_IDS (comma-separated
message ids that always raise), CRASH_IDS (ids that kill the process, as a segfault would),
TRANSIENT_UNTIL_FILE (transient failures until it exists), DOWNSTREAM_DOWN_FILE (the
dependency `guarded` calls through a breaker fails while that file exists), SINK_DB (the SQLite
file `upsert` writes to through the idempotency toolkit).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time

from consumer import Message, TransientError, breaker
from consumer.upsert import ThreadLocalSqlite, UpsertSink

_fd = -1


def _write(line: str) -> None:
    global _fd
    if _fd < 0:
        _fd = os.open(os.environ["RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_fd, line.encode())


def _line(event: str, msg: Message) -> str:
    key = msg.key.decode() if msg.key else "-"
    return f"{event} {msg.partition} {msg.offset} {msg.message_id} {key} {time.monotonic():.6f}\n"


def _delay() -> float:
    return float(os.environ.get("HANDLER_DELAY_S", "0"))


def _check_failures(msg: Message) -> None:
    if msg.message_id in os.environ.get("CRASH_IDS", "").split(","):
        os._exit(3)
    if msg.message_id in os.environ.get("FAIL_IDS", "").split(","):
        raise RuntimeError(f"handler bug on {msg.message_id}")
    gate = os.environ.get("TRANSIENT_UNTIL_FILE")
    if gate and not os.path.exists(gate):
        raise TransientError("downstream unavailable")


def record(msg: Message) -> None:
    """Records a start and an end line around an optional delay."""
    _write(_line("start", msg))
    _check_failures(msg)
    delay = _delay()
    if delay:
        time.sleep(delay)
    _write(_line("done", msg))


async def record_async(msg: Message) -> None:
    _write(_line("start", msg))
    _check_failures(msg)
    delay = _delay()
    if delay:
        await asyncio.sleep(delay)
    _write(_line("done", msg))


def _downstream(msg: Message) -> None:
    down = os.environ.get("DOWNSTREAM_DOWN_FILE")
    if down and os.path.exists(down):
        raise ConnectionError("downstream refused the connection")


def guarded(msg: Message) -> None:
    """Calls a dependency through the `downstream` breaker; records only successful calls."""
    with breaker("downstream"):
        _downstream(msg)
    _write(_line("start", msg))
    _write(_line("done", msg))


_sink = UpsertSink("effects", ["partition", "record_offset"])
_db: ThreadLocalSqlite | None = None
_db_lock = threading.Lock()


def _sink_db() -> ThreadLocalSqlite:
    # Published only once its table exists: the first calls run on several threads at once,
    # and one that wrote before the table was there would fail and be retried.
    global _db
    with _db_lock:
        if _db is None:
            db = ThreadLocalSqlite(os.environ["SINK_DB"])
            db.execute("CREATE TABLE IF NOT EXISTS effects (message_id TEXT PRIMARY KEY, "
                       "partition INTEGER, record_offset INTEGER)")
            _db = db
        return _db


def upsert(msg: Message) -> None:
    """A plain side effect (the record lines) and an idempotent one (a row per message id)."""
    db = _sink_db()
    _write(_line("start", msg))
    _check_failures(msg)
    delay = _delay()
    if delay:
        time.sleep(delay)
    _sink.write(db.connection(), msg, {"partition": msg.partition, "record_offset": msg.offset})
    _write(_line("done", msg))


def record_values(msg: Message) -> None:
    """Records the decoded record's fields (VALUES_FILE, JSON lines) besides the usual lines."""
    line = json.dumps({"id": msg.message_id, "schema_id": msg.schema_id,
                       "fields": sorted(msg.value), "status": msg.value.get("status")})
    with open(os.environ["VALUES_FILE"], "a") as values:
        values.write(line + "\n")
    _write(_line("done", msg))


def noop(msg: Message) -> None:
    """For benchmarks."""
