"""SQL upserts keyed on the message id: a re-run leaves one row; SQLite in WAL mode shared by
handler threads, one connection each."""

from __future__ import annotations

import sqlite3
import threading
from types import SimpleNamespace

import pytest

from consumer.errors import ConfigError, PermanentError
from consumer.upsert import ThreadLocalSqlite, UpsertSink, paramstyle_of

DDL = ("CREATE TABLE orders_seen (message_id TEXT PRIMARY KEY, customer TEXT, "
       "total_cents INTEGER)")


@pytest.fixture
def db(tmp_path):
    database = ThreadLocalSqlite(tmp_path / "sink.db")
    database.execute(DDL)
    yield database
    database.close()


def rows(db: ThreadLocalSqlite) -> list[tuple]:
    return db.execute("SELECT message_id, customer, total_cents FROM orders_seen "
                      "ORDER BY message_id")


def test_writing_the_same_message_twice_leaves_one_row(db):
    sink = UpsertSink("orders_seen", ["customer", "total_cents"])
    msg = SimpleNamespace(message_id="order-17")
    sink.write(db.connection(), msg, {"customer": "ada", "total_cents": 1200})
    sink.write(db.connection(), msg, {"customer": "ada", "total_cents": 1200})
    assert rows(db) == [("order-17", "ada", 1200)]


def test_a_rerun_with_new_values_updates_and_do_nothing_keeps_the_first(db):
    updating = UpsertSink("orders_seen", ["customer", "total_cents"])
    keeping = UpsertSink("orders_seen", ["customer", "total_cents"], update=False)
    updating.write(db.connection(), "a", {"customer": "ada", "total_cents": 1})
    updating.write(db.connection(), "a", {"customer": "ada", "total_cents": 2})
    keeping.write(db.connection(), "b", {"customer": "bob", "total_cents": 1})
    keeping.write(db.connection(), "b", {"customer": "bob", "total_cents": 2})
    assert rows(db) == [("a", "ada", 2), ("b", "bob", 1)]


def test_commit_false_leaves_the_transaction_to_the_caller(db):
    sink = UpsertSink("orders_seen", ["customer", "total_cents"])
    connection = db.connection()
    sink.write(connection, "a", {"customer": "ada", "total_cents": 1}, commit=False)
    connection.rollback()
    assert rows(db) == []


def test_handler_threads_upserting_overlapping_ids_leave_one_row_per_id(db):
    sink = UpsertSink("orders_seen", ["customer", "total_cents"])
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(100):
                sink.write(db.connection(), f"order-{i}", {"customer": "c", "total_cents": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rows(db)) == 100
    assert db.execute("PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize("style, placeholders", [
    ("qmark", "?, ?, ?"),
    ("numeric", ":1, :2, :3"),
    ("named", ":message_id, :customer, :total_cents"),
    ("format", "%s, %s, %s"),
    ("pyformat", "%(message_id)s, %(customer)s, %(total_cents)s"),
])
def test_the_statement_follows_the_drivers_paramstyle(style, placeholders):
    statement = UpsertSink("orders_seen", ["customer", "total_cents"]).statement(style)
    assert statement == (
        'INSERT INTO "orders_seen" ("message_id", "customer", "total_cents") '
        f"VALUES ({placeholders}) ON CONFLICT (\"message_id\") DO UPDATE SET "
        '"customer" = excluded."customer", "total_cents" = excluded."total_cents"')


def test_named_paramstyles_run_on_sqlite(tmp_path):
    connection = sqlite3.connect(tmp_path / "named.db")
    connection.execute(DDL)
    sink = UpsertSink("orders_seen", ["customer", "total_cents"], paramstyle="named")
    sink.write(connection, "x", {"customer": "ada", "total_cents": 3})
    assert connection.execute("SELECT * FROM orders_seen").fetchall() == [("x", "ada", 3)]


def test_the_paramstyle_comes_from_the_connections_driver(tmp_path):
    assert paramstyle_of(sqlite3.connect(":memory:")) == "qmark"
    with pytest.raises(ConfigError, match="paramstyle"):
        paramstyle_of(object())


@pytest.mark.parametrize("table, columns, key", [
    ("orders; DROP TABLE x", ["a"], "message_id"),
    ("orders", ['a"b'], "message_id"),
    ("orders", [], "message_id"),
    ("orders", ["message_id"], "message_id"),
])
def test_unsafe_or_inconsistent_names_are_refused(table, columns, key):
    with pytest.raises(ConfigError):
        UpsertSink(table, columns, key_column=key)


def test_a_missing_value_or_message_id_is_refused(db):
    sink = UpsertSink("orders_seen", ["customer", "total_cents"])
    with pytest.raises(ConfigError, match="total_cents"):
        sink.write(db.connection(), "a", {"customer": "ada"})
    with pytest.raises(PermanentError):
        sink.write(db.connection(), SimpleNamespace(message_id=""),
                   {"customer": "ada", "total_cents": 1})
