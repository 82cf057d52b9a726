"""examples/orders.py, the demo's handler: one row per message id however often it runs, a
refund rejected with a plain exception (a handler bug) until the fix is switched on."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from contextlib import closing
from types import SimpleNamespace

import pytest

ORDER = {"order_id": "ord-1", "customer_id": "C-0001", "status": "PAID", "amount_cents": 1250,
         "currency": "EUR", "items": [{"sku": "SKU-0001", "quantity": 1,
                                       "unit_price_cents": 1250}],
         "shipping_country": "FR", "created_at": 0}


def load(monkeypatch, tmp_path, **env: str):
    """The handler module as a fresh ``consumer run`` process imports it."""
    monkeypatch.setenv("ORDERS_DB", str(tmp_path / "orders.db"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("examples.orders", None)
    return importlib.import_module("examples.orders")


@pytest.fixture
def handler_module(monkeypatch, tmp_path):
    module = load(monkeypatch, tmp_path)
    yield module
    module.db.close()
    sys.modules.pop("examples.orders", None)


def message(order: dict, offset: int = 7) -> SimpleNamespace:
    return SimpleNamespace(value=order, message_id=order["order_id"], topic="orders",
                           partition=1, offset=offset)


def rows(tmp_path) -> list[tuple]:
    with closing(sqlite3.connect(tmp_path / "orders.db")) as connection:
        return connection.execute("SELECT message_id, amount_cents, kafka_offset FROM orders "
                                  "ORDER BY message_id").fetchall()


def test_a_message_handled_twice_is_one_row(handler_module, tmp_path):
    handler_module.handle(message(ORDER, offset=7))
    handler_module.handle(message(ORDER, offset=93))  # redelivered after a crash, say
    assert rows(tmp_path) == [("ord-1", 1250, "orders/1@93")]


def test_a_refund_is_a_handler_bug_until_the_fix(handler_module, tmp_path, monkeypatch):
    refund = {**ORDER, "order_id": "ord-2", "status": "UNKNOWN", "amount_cents": -1250}
    with pytest.raises(ValueError, match="negative amount -1250"):
        handler_module.handle(message(refund))
    assert rows(tmp_path) == []
    handler_module.db.close()

    fixed = load(monkeypatch, tmp_path, ORDERS_ACCEPT_REFUNDS="1")
    try:
        fixed.handle(message(refund))
    finally:
        fixed.db.close()
    assert rows(tmp_path) == [("ord-2", -1250, "orders/1@7")]
