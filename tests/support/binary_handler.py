"""A handler for hostile input: like tests/support/handlers.py:upsert (the same record lines
and the same idempotent sink table), but keys may be any bytes (invalid UTF-8, spaces, NUL), so
they are written as hex. Environment: RECORD_FILE, SINK_DB, FAIL_IDS."""

from __future__ import annotations

import os
import threading
import time

from consumer import Message
from consumer.upsert import ThreadLocalSqlite, UpsertSink

_sink = UpsertSink("effects", ["partition", "record_offset"])
_lock = threading.Lock()
_state: dict[str, object] = {}


def _opened() -> tuple[int, ThreadLocalSqlite]:
    with _lock:
        if not _state:
            db = ThreadLocalSqlite(os.environ["SINK_DB"])
            db.execute("CREATE TABLE IF NOT EXISTS effects (message_id TEXT PRIMARY KEY, "
                       "partition INTEGER, record_offset INTEGER)")
            _state["db"] = db
            _state["fd"] = os.open(os.environ["RECORD_FILE"],
                                   os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _state["fail"] = set(os.environ.get("FAIL_IDS", "").split(","))
    return _state["fd"], _state["db"]  # type: ignore[return-value]


def _line(fd: int, event: str, msg: Message) -> None:
    key = msg.key.hex() if msg.key else "-"
    # one write per line (O_APPEND): lines never interleave, even across processes
    os.write(fd, f"{event} {msg.partition} {msg.offset} {msg.message_id} {key} "
                 f"{time.monotonic():.6f}\n".encode())


def upsert_any_key(msg: Message) -> None:
    fd, db = _opened()
    _line(fd, "start", msg)
    if msg.message_id in _state["fail"]:  # type: ignore[operator]
        raise RuntimeError(f"handler bug on {msg.message_id}")
    _sink.write(db.connection(), msg, {"partition": msg.partition, "record_offset": msg.offset})
    _line(fd, "done", msg)
