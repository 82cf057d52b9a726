"""Avro decode + validation cost per record on the example `orders` schema, in microseconds:
``AvroDecoder.decode`` (wire-format header, cached writer schema, its C reader from
``avro_reader``, end-of-value checks; fastavro when resolving to a reader schema), the C reader
and the generated Python reader alone, against bare fastavro ``schemaless_reader`` measured in
the same run.

    .venv/bin/python bench/avro_decode.py [--records N] [--repeat R]

The registry is a real one (our server, in-process, on a loopback port); it is asked once per
schema id, so the figures are the steady state of a consumer."""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import fastavro

from consumer.avro_codec import AvroDecoder, AvroEncoder
from consumer.avro_reader import compile_reader
from consumer.registry_client import RegistryClient
from consumer.registry_server import RegistryServer
from consumer.registry_store import RegistryStore

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def order(n: int) -> dict[str, object]:
    return {"order_id": f"ord-{n:08d}", "customer_id": f"cust-{n % 5000:05d}",
            "status": "PAID", "amount_cents": 4250 + n % 100, "currency": "EUR",
            "discount_cents": 0,
            "items": [{"sku": "SKU-1001", "quantity": 2, "unit_price_cents": 1500},
                      {"sku": "SKU-2002", "quantity": 1, "unit_price_cents": 1250}],
            "shipping_country": "DE", "created_at": 1763769600000 + n, "coupon_code": None}


def best_per_record_us(variants: list[tuple[str, Callable[[bytes], object], list[bytes]]],
                       repeat: int) -> list[tuple[str, float]]:
    """Best time per record of each variant; the variants take turns in every round, so a
    busy machine slows them alike and the ratios hold."""
    best = {name: float("inf") for name, _, _ in variants}
    for _ in range(repeat):
        for name, decode, payloads in variants:
            start = time.perf_counter()
            for payload in payloads:
                decode(payload)
            best[name] = min(best[name], (time.perf_counter() - start) / len(payloads) * 1e6)
    return list(best.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    v1, v2 = (json.loads((SCHEMAS / f"orders-v{n}.avsc").read_text()) for n in (1, 2))
    with tempfile.TemporaryDirectory() as home:
        store = RegistryStore(Path(home) / "registry.db")
        server = RegistryServer(("127.0.0.1", 0), store)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with RegistryClient(server.url) as registry:
                schema_id = registry.register("orders-value", json.dumps(v2)).schema_id
                encoder = AvroEncoder(schema_id, v2)
                payloads = [encoder.encode(order(n)) for n in range(args.records)]
                bodies = [p[5:] for p in payloads]
                parsed_v1, parsed_v2 = fastavro.parse_schema(v1), fastavro.parse_schema(v2)
                plain, as_v1 = AvroDecoder(registry), AvroDecoder(registry, v1)
                native = compile_reader(parsed_v2, native=True)
                generated = compile_reader(parsed_v2, native=False)
                assert native is not None and generated is not None
                rows = best_per_record_us([
                    ("fastavro schemaless_reader (baseline)",
                     lambda b: fastavro.schemaless_reader(io.BytesIO(b), parsed_v2), bodies),
                    ("fastavro schemaless_reader, v2 resolved to v1",
                     lambda b: fastavro.schemaless_reader(io.BytesIO(b), parsed_v2, parsed_v1),
                     bodies),
                    ("generated Python reader (avro_reader)", lambda b: generated(b, 0),
                     bodies),
                    ("C reader (_avro_native)", lambda b: native(b, 0), bodies),
                    ("AvroDecoder.decode, writer schema", plain.decode, payloads),
                    ("AvroDecoder.decode, v2 resolved to v1 reader", as_v1.decode, payloads),
                ], args.repeat)
        finally:
            server.shutdown()
            server.server_close()
            store.close()

    baseline = rows[0][1]
    print(f"orders v2 record ({len(payloads[0])} bytes on the wire, 2 items), "
          f"{args.records} records, best of {args.repeat}")
    print(f"{'':48} {'us/record':>10} {'records/s':>10} {'x baseline':>10}")
    for name, us in rows:
        print(f"{name:48} {us:10.2f} {1e6 / us:10.0f} {us / baseline:10.2f}")


if __name__ == "__main__":
    main()
