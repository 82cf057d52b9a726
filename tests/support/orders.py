"""Orders for Avro scenarios: records that fit schemas/orders-v2.avsc, and the schemas."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def schema(version: int) -> dict:
    return json.loads((SCHEMAS / f"orders-v{version}.avsc").read_text())


def order_v2(n: int) -> dict[str, object]:
    return {"order_id": f"o-{n}", "customer_id": f"c-{n % 7}", "status": "REFUNDED",
            "amount_cents": 1000 + n, "currency": "EUR", "discount_cents": n,
            "items": [{"sku": f"sku-{n}", "quantity": 1, "unit_price_cents": 1000 + n}],
            "shipping_country": "NL", "created_at": 1763769600000 + n,
            "coupon_code": None if n % 2 else "SPRING"}


def order_v1(n: int) -> dict[str, object]:
    fields = {f["name"] for f in schema(1)["fields"]}
    record = {k: v for k, v in order_v2(n).items() if k in fields}
    record["status"] = "PLACED"
    return record
