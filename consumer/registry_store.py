"""The registry's durable state in one SQLite file: schemas by global id, subject versions
(soft-deleted ones kept until a permanent delete), and compatibility levels. Callers group
reads and writes that must agree in ``transaction()``; one writer at a time, across threads
and processes, is what makes concurrent registrations of one schema get one id."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GLOBAL_CONFIG = "__GLOBAL"  # Confluent's own reserved name for the global config

_TABLES = """
CREATE TABLE IF NOT EXISTS schemas (
    id INTEGER PRIMARY KEY,
    schema TEXT NOT NULL UNIQUE           -- canonical text: equal text, same schema, same id
);
CREATE TABLE IF NOT EXISTS versions (
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL REFERENCES schemas(id),
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
);
CREATE INDEX IF NOT EXISTS versions_by_schema ON versions (schema_id);
CREATE TABLE IF NOT EXISTS configs (
    subject TEXT PRIMARY KEY,
    compatibility TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class VersionRow:
    subject: str
    version: int
    schema_id: int
    deleted: bool
    schema: str


class RegistryStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so a transaction spans what we say.
        self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # an id once answered is never lost
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_TABLES)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside sees one state and commits together; nests (inner is a no-op)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")  # takes the write lock now: no upgrade races
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self.transaction():
            return self._db.execute(sql, args).fetchall()

    # -- schemas --------------------------------------------------------------------------
    def schema(self, schema_id: int) -> str | None:
        rows = self._query("SELECT schema FROM schemas WHERE id = ?", schema_id)
        return str(rows[0][0]) if rows else None

    def schema_id(self, schema: str) -> int | None:
        rows = self._query("SELECT id FROM schemas WHERE schema = ?", schema)
        return int(rows[0][0]) if rows else None

    def add_schema(self, schema: str) -> int:
        """The id of ``schema``, given a new one (max + 1) when it is not known yet."""
        with self.transaction():
            known = self.schema_id(schema)
            if known is not None:
                return known
            cursor = self._db.execute("INSERT INTO schemas (schema) VALUES (?)", (schema,))
            return int(cursor.lastrowid or 0)

    # -- subjects and versions ------------------------------------------------------------
    def versions(self, subject: str, *, include_deleted: bool) -> list[VersionRow]:
        rows = self._query(
            "SELECT v.subject, v.version, v.schema_id, v.deleted, s.schema FROM versions v "
            "JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? "
            + ("" if include_deleted else "AND v.deleted = 0 ") + "ORDER BY v.version", subject)
        return [VersionRow(str(r[0]), int(r[1]), int(r[2]), bool(r[3]), str(r[4]))
                for r in rows]

    def add_version(self, subject: str, schema_id: int) -> int:
        """Appends a version: max of every version ever kept, deleted ones too, plus one."""
        with self.transaction():
            top = self._query("SELECT MAX(version) FROM versions WHERE subject = ?", subject)
            version = int(top[0][0] or 0) + 1
            self._db.execute("INSERT INTO versions (subject, version, schema_id) VALUES (?, ?, ?)",
                             (subject, version, schema_id))
            return version

    def soft_delete(self, subject: str, versions: list[int]) -> None:
        with self.transaction():
            self._db.executemany("UPDATE versions SET deleted = 1 WHERE subject = ? AND version = ?",
                                 [(subject, v) for v in versions])

    def hard_delete(self, subject: str, versions: list[int]) -> None:
        with self.transaction():
            self._db.executemany("DELETE FROM versions WHERE subject = ? AND version = ?",
                                 [(subject, v) for v in versions])

    def subjects(self) -> dict[str, bool]:
        """Every subject with a version kept -> whether one of them is live."""
        rows = self._query("SELECT subject, MIN(deleted) FROM versions GROUP BY subject "
                           "ORDER BY subject")
        return {str(r[0]): not r[1] for r in rows}

    def uses_of(self, schema_id: int, *, include_deleted: bool) -> list[tuple[str, int]]:
        rows = self._query("SELECT subject, version FROM versions WHERE schema_id = ? "
                           + ("" if include_deleted else "AND deleted = 0 ")
                           + "ORDER BY subject, version", schema_id)
        return [(str(r[0]), int(r[1])) for r in rows]

    # -- compatibility levels -------------------------------------------------------------
    def config(self, subject: str = GLOBAL_CONFIG) -> str | None:
        rows = self._query("SELECT compatibility FROM configs WHERE subject = ?", subject)
        return str(rows[0][0]) if rows else None

    def set_config(self, level: str, subject: str = GLOBAL_CONFIG) -> None:
        with self.transaction():
            self._db.execute("INSERT INTO configs (subject, compatibility) VALUES (?, ?) "
                             "ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility",
                             (subject, level))

    def delete_config(self, subject: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM configs WHERE subject = ?", (subject,))
