"""The orders handler of ``consumer demo`` and the README: the model of an idempotent handler.

    consumer run --topic orders --group orders-demo --handler examples.orders:handle \\
        --reader-schema schemas/orders-v1.avsc

Each order becomes one row of the SQLite table ``orders``, written with an upsert keyed on
``msg.message_id``. Dedup already drops messages recorded done, but a crash between this write
and the "done" mark delivers the message again; the upsert makes that second run rewrite its
own row instead of adding one, so the table holds each order once whatever happens.

Environment:
- ``ORDERS_DB``: the SQLite file (default: ``orders.db`` in the demo's folder next to the
  embedded stack's state).
- ``ORDERS_ACCEPT_REFUNDS=1``: the demo's "fix". Without it a refund (negative amount) raises
  a plain exception, the kind of bug a handler ships with: the runtime retries it
  ``--max-attempts`` times, then dead-letters it with category ``handler``.
"""

from __future__ import annotations

import os
from pathlib import Path

from consumer import Message
from consumer.devstack import state_dir
from consumer.upsert import ThreadLocalSqlite, UpsertSink

DB_PATH = Path(os.environ.get("ORDERS_DB") or state_dir().parent / "demo" / "orders.db")
ACCEPT_REFUNDS = os.environ.get("ORDERS_ACCEPT_REFUNDS", "").lower() in ("1", "true", "yes")

# message_id is the key the upsert conflicts on, so it must be unique.
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS orders (
    message_id   TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    item_count   INTEGER NOT NULL,
    kafka_offset TEXT NOT NULL
)"""

# Handlers run on --concurrency threads: one SQLite connection per thread, in WAL mode.
db = ThreadLocalSqlite(DB_PATH)
sink = UpsertSink("orders", ["order_id", "customer_id", "status", "amount_cents", "currency",
                             "item_count", "kafka_offset"])

DB_PATH.parent.mkdir(parents=True, exist_ok=True)
db.execute(CREATE_TABLE)


def handle(msg: Message) -> None:
    order = msg.value  # a dict shaped by --reader-schema, whichever version wrote it
    if order["amount_cents"] < 0 and not ACCEPT_REFUNDS:
        # The bug: refunds were never expected here. A plain exception, not PermanentError,
        # because nothing is wrong with the message: the fixed handler will take it on replay.
        raise ValueError(f"order {order['order_id']}: negative amount {order['amount_cents']}")
    sink.write(db.connection(), msg, {
        "order_id": order["order_id"],
        "customer_id": order["customer_id"],
        "status": order["status"],
        "amount_cents": order["amount_cents"],
        "currency": order["currency"],
        "item_count": len(order["items"]),
        # The last write wins: after a redelivery this shows the offset that wrote the row.
        "kafka_offset": f"{msg.topic}/{msg.partition}@{msg.offset}",
    })
