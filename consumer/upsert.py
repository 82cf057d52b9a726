"""Idempotent SQL writes keyed on the message id: ``INSERT ... ON CONFLICT (message_id) DO
UPDATE``, so running a handler twice for one message leaves one row with the same values.
This is the layer that holds when dedup cannot: a crash between the side effect and the "done"
mark re-runs the message, and the re-run overwrites its own row instead of adding one.

    sink = UpsertSink("orders_seen", ["customer", "total_cents"])

    def handle(msg: Message) -> None:
        conn = pool.getconn()                               # any DB-API connection
        try:
            sink.write(conn, msg, {"customer": msg.value["customer"],
                                   "total_cents": msg.value["total_cents"]})
        finally:
            pool.putconn(conn)

``ON CONFLICT`` is SQLite (3.24+) and PostgreSQL syntax; the placeholders follow the driver's
``paramstyle`` (qmark for sqlite3, pyformat for psycopg, ...), found from the connection's
module or given. The key column needs a UNIQUE or PRIMARY KEY constraint.

``ThreadLocalSqlite`` gives each handler thread its own SQLite connection in WAL mode (readers
do not block the writer, and a busy database is waited for instead of failing), which is what
a handler running with ``--concurrency`` > 1 needs::

    db = ThreadLocalSqlite("orders.db")
    db.execute("CREATE TABLE IF NOT EXISTS orders_seen (message_id TEXT PRIMARY KEY, "
               "customer TEXT, total_cents INTEGER)")

    def handle(msg: Message) -> None:
        sink.write(db.connection(), msg, {"customer": msg.value["customer"],
                                          "total_cents": msg.value["total_cents"]})
"""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .idempotency import KeySource, idempotency_key

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDERS = {
    "qmark": lambda i, name: "?",
    "numeric": lambda i, name: f":{i}",
    "named": lambda i, name: f":{name}",
    "format": lambda i, name: "%s",
    "pyformat": lambda i, name: f"%({name})s",
}


def paramstyle_of(connection: Any) -> str:
    """The DB-API ``paramstyle`` of the driver module that made ``connection``."""
    module = sys.modules.get(type(connection).__module__.split(".")[0])
    style = getattr(module, "paramstyle", None)
    if style not in _PLACEHOLDERS:
        raise ConfigError(f"cannot tell the paramstyle of {type(connection).__qualname__}: "
                          "pass paramstyle= to UpsertSink")
    return str(style)


def _quoted(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"{name!r} is not a plain SQL identifier")
    return f'"{name}"'


class UpsertSink:
    def __init__(self, table: str, columns: Sequence[str], *, key_column: str = "message_id",
                 paramstyle: str | None = None, update: bool = True) -> None:
        """``update=False`` keeps the first write (``DO NOTHING``) instead of the last."""
        if not columns:
            raise ConfigError("an upsert needs at least one value column")
        if key_column in columns:
            raise ConfigError(f"{key_column!r} is the key column; do not list it in columns")
        if paramstyle is not None and paramstyle not in _PLACEHOLDERS:
            raise ConfigError(f"unknown paramstyle {paramstyle!r}")
        self.table = table
        self.columns = tuple(columns)
        self.key_column = key_column
        self.paramstyle = paramstyle
        self.update = update
        self._names = (key_column, *self.columns)
        for name in (table, *self._names):
            _quoted(name)

    def statement(self, paramstyle: str) -> str:
        placeholders = ", ".join(_PLACEHOLDERS[paramstyle](i, name)
                                 for i, name in enumerate(self._names, 1))
        target = ", ".join(_quoted(name) for name in self._names)
        action = ("DO UPDATE SET " + ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}"
                                               for c in self.columns)
                  if self.update else "DO NOTHING")
        return (f"INSERT INTO {_quoted(self.table)} ({target}) VALUES ({placeholders}) "
                f"ON CONFLICT ({_quoted(self.key_column)}) {action}")

    def write(self, connection: Any, key: KeySource, values: Mapping[str, Any], *,
              commit: bool = True) -> None:
        """Upserts one row. ``commit=False`` leaves the transaction to the caller, to write
        the row together with other changes."""
        missing = set(self.columns) - set(values)
        if missing:
            raise ConfigError(f"upsert into {self.table}: no value for {sorted(missing)}")
        style = self.paramstyle or paramstyle_of(connection)
        row = {self.key_column: idempotency_key(key), **{c: values[c] for c in self.columns}}
        params: Any = row if style in ("named", "pyformat") else [row[n] for n in self._names]
        cursor = connection.cursor()
        try:
            cursor.execute(self.statement(style), params)
        finally:
            cursor.close()
        if commit:
            connection.commit()


class ThreadLocalSqlite:
    """One SQLite connection per thread on one database file, in WAL mode."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # check_same_thread=False only so close() may close every thread's connection
            connection = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        """Runs one statement on this thread's connection, commits, returns the rows."""
        connection = self.connection()
        rows = connection.execute(sql, params).fetchall()
        connection.commit()
        return rows

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
        self._local = threading.local()
