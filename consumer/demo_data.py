"""What ``consumer demo`` produces, planned before anything is sent: a stream of orders as a
shop's producers would write it (half with schema v1, the rest after an upgrade to v2), with
the same order re-sent at a later offset now and then (a producer retrying after a timeout),
and a handful of records no consumer can take. The plan also says what a correct consumer must
end with, so the demo can check its own summary.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .constants import CATEGORY_DATA, CATEGORY_HANDLER

# What each kind of record is, as the summary names it.
ORDER = "order"
DUPLICATE = "duplicate"
REFUND = "refund"                # a valid v2 order with a negative amount: the handler's bug
BAD_BYTES = "bad_bytes"          # JSON text, not the Confluent wire format
TRUNCATED = "truncated"          # a v1 record cut short
INCOMPATIBLE = "incompatible"    # written with v3, which the v1 reader cannot resolve
POISON_KINDS = (BAD_BYTES, TRUNCATED, INCOMPATIBLE)
DESCRIPTIONS = {
    REFUND: "a refund the handler rejects",
    BAD_BYTES: "bad bytes, not the wire format",
    TRUNCATED: "an Avro record cut short",
    INCOMPATIBLE: "written with incompatible v3",
}
# (category, error class) each kind is dead-lettered with (CONTRACT.md, "Dead letters").
DEAD_LETTER_REASONS = {
    REFUND: (CATEGORY_HANDLER, "builtins.ValueError"),
    BAD_BYTES: (CATEGORY_DATA, "consumer.errors.FramingError"),
    TRUNCATED: (CATEGORY_DATA, "consumer.errors.DecodeError"),
    INCOMPATIBLE: (CATEGORY_DATA, "consumer.errors.ValidationError"),
}

DUPLICATE_SHARE = 0.03
CUSTOMERS = 400
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP")
COUNTRIES = ("FR", "DE", "NL", "ES", "IT", "BE", "GB", "US")
SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 121))


@dataclass(frozen=True)
class PlannedRecord:
    kind: str
    message_id: str
    key: str
    order: dict[str, Any]
    schema: str
    """``v1``, ``v2`` or ``v3``: which schema writes ``order`` (bad bytes: ``v1``, unused)."""


@dataclass(frozen=True)
class Expected:
    """What a correct consumer ends with after reading the whole plan once."""

    processed: int
    duplicates: int
    dead_letters: dict[tuple[str, str], int]
    distinct_valid_orders: int
    """Rows the idempotent sink holds: every order the handler accepts, once."""


@dataclass(frozen=True)
class Plan:
    run_id: str
    records: list[PlannedRecord]

    def count(self, kind: str) -> int:
        return sum(1 for record in self.records if record.kind == kind)

    def expected(self, *, refunds_accepted: bool = False) -> Expected:
        orders = self.count(ORDER) + self.count(REFUND)
        refunds = 0 if refunds_accepted else self.count(REFUND)
        reasons = Counter(DEAD_LETTER_REASONS[r.kind] for r in self.records
                          if r.kind in POISON_KINDS or (r.kind == REFUND and refunds))
        return Expected(processed=orders - refunds, duplicates=self.count(DUPLICATE),
                        dead_letters=dict(reasons), distinct_valid_orders=orders - refunds)


def _order(rng: random.Random, order_id: str, created_at_ms: int, schema: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"sku": rng.choice(SKUS), "quantity": rng.randint(1, 3),
         "unit_price_cents": rng.randrange(199, 15_000, 50)} for _ in range(rng.randint(1, 4))]
    total = sum(item["quantity"] * item["unit_price_cents"] for item in items)
    order: dict[str, Any] = {
        "order_id": order_id, "customer_id": f"C-{rng.randint(1, CUSTOMERS):04d}",
        "status": rng.choice(("PLACED", "PLACED", "PAID", "SHIPPED", "CANCELLED")),
        "amount_cents": total, "currency": rng.choice(CURRENCIES), "items": items,
        "shipping_country": rng.choice(COUNTRIES), "created_at": created_at_ms}
    if schema == "v2":
        discount = rng.choice((0, 0, 0, 500, 1000))
        order.update(discount_cents=min(discount, total), amount_cents=total - min(discount, total),
                     coupon_code="WELCOME10" if discount else None)
    return order


def _refund(order: dict[str, Any]) -> dict[str, Any]:
    item = order["items"][0]
    return {**order, "status": "REFUNDED", "items": [item], "discount_cents": 0,
            "coupon_code": None, "amount_cents": -item["quantity"] * item["unit_price_cents"]}


def _incompatible(order: dict[str, Any]) -> dict[str, Any]:
    """The same order as the v3 producer team writes it: a decimal string and a warehouse."""
    v3 = {k: v for k, v in order.items() if k != "amount_cents"}
    return {**v3, "amount": f"{order['amount_cents'] / 100:.2f}", "discount_cents": 0,
            "coupon_code": None, "warehouse_id": "WH-LYON-1"}


def plan_orders(count: int, *, run_id: str, seed: int, start_ms: int) -> Plan:
    """``count`` orders (one of them the refund), ~3% of them sent again later, and one record
    of each poison kind, in the order they are to be produced."""
    if count < 10:
        raise ValueError("the demo needs at least 10 orders")
    rng = random.Random(seed)
    upgrade_at = count // 2  # the producers move from v1 to v2 here
    refund_at = upgrade_at + (count - upgrade_at) // 2
    placed: list[tuple[float, PlannedRecord]] = []
    for n in range(count):
        schema = "v1" if n < upgrade_at else "v2"
        order_id = f"ord-{run_id}-{n + 1:05d}"
        order = _order(rng, order_id, start_ms + n * 37, schema)
        kind = ORDER
        if n == refund_at:
            order, kind = _refund(order), REFUND
        placed.append((n, PlannedRecord(kind, order_id, order["customer_id"], order, schema)))
    valid = [record for _, record in placed if record.kind == ORDER]
    originals = sorted(rng.sample(range(len(valid)), max(1, round(count * DUPLICATE_SHARE))))
    position = {record.message_id: n for n, record in placed}
    for index in originals:
        original = valid[index]
        # Re-sent after a while, so the copy lands at a later offset of the same partition.
        later = position[original.message_id] + rng.randint(20, 400) + 0.5
        placed.append((later, PlannedRecord(DUPLICATE, original.message_id, original.key,
                                            original.order, original.schema)))
    for number, kind in enumerate(POISON_KINDS, start=1):
        host = valid[rng.randrange(len(valid))]
        order_id = f"ord-{run_id}-poison-{number}"
        order = {**host.order, "order_id": order_id}
        schema = "v3" if kind == INCOMPATIBLE else "v1"
        if kind == INCOMPATIBLE:
            order = _incompatible(order)
        elif kind == TRUNCATED:
            order = {k: v for k, v in order.items() if k not in ("discount_cents", "coupon_code")}
        placed.append((rng.uniform(count * 0.2, count * 0.8),
                       PlannedRecord(kind, order_id, host.key, order, schema)))
    placed.sort(key=lambda entry: entry[0])
    return Plan(run_id, [record for _, record in placed])
