"""The topic bench/compare.py reads: ``orders`` v1 records in the Confluent wire format, one
``message-id`` header each (all distinct, so dedup checks every one and drops none), spread
evenly over the partitions, with the exact end offsets kept from the delivery reports (Tansu's
ListOffsets is wrong after batched produce)."""

from __future__ import annotations

import io
import json
import random
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.registry_client import RegistryClient

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "orders-v1.avsc"
DISTINCT_VALUES = 5000   # encoded once and cycled: producing stays cheap beside consuming
COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "PL", "SE", "US")


def _orders(seed: int) -> Iterator[dict[str, object]]:
    rnd = random.Random(seed)
    for n in range(DISTINCT_VALUES):
        items = [{"sku": f"SKU-{rnd.randrange(10_000):05d}", "quantity": rnd.randrange(1, 5),
                  "unit_price_cents": rnd.randrange(100, 20_000)} for _ in range(2)]
        yield {"order_id": f"o-{seed}-{n}", "customer_id": f"c-{rnd.randrange(50_000)}",
               "status": rnd.choice(["PLACED", "PAID", "SHIPPED"]),
               "amount_cents": sum(i["quantity"] * i["unit_price_cents"] for i in items),
               "currency": "EUR", "items": items,
               "shipping_country": rnd.choice(COUNTRIES),
               "created_at": 1_795_000_000_000 + n}


class OrdersTopic:
    def __init__(self, bootstrap: str, registry: str, topic: str, partitions: int,
                 duplicate_every: int = 0) -> None:
        """``duplicate_every`` N > 0: every Nth record re-sends the previous one's id (a
        duplicate, as a retrying producer makes them; 100 gives 1%)."""
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.duplicate_every = duplicate_every
        schema_text = SCHEMA_FILE.read_text()
        with RegistryClient(registry) as client:
            schema_id = client.register(f"{topic}-value", schema_text).schema_id
        parsed = fastavro.parse_schema(json.loads(schema_text))
        header = b"\x00" + struct.pack(">I", schema_id)
        self._values = []
        for order in _orders(seed=7):
            out = io.BytesIO()
            out.write(header)
            fastavro.schemaless_writer(out, parsed, order)
            self._values.append(out.getvalue())
        self.ends = dict.fromkeys(range(partitions), 0)
        self._sent = 0
        # One producer for the run: the live load is never slowed by a connection being set up.
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                   "linger.ms": 5})

    def fill(self, count: int) -> None:
        """``count`` records as fast as the producer goes."""
        self._produce(count, rate_per_s=None)

    def live(self, count: int, rate_per_s: float) -> None:
        """``count`` records at ``rate_per_s``, in bursts every 10 ms, each stamped when
        produced."""
        self._produce(count, rate_per_s)

    def start_group_at_backlog(self, group: str, backlog: int) -> None:
        """Commits offsets for ``group`` so that its backlog is the last ``backlog`` records."""
        per_partition = backlog // self.partitions
        client = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                           "enable.auto.commit": False})
        try:
            client.commit(offsets=[TopicPartition(self.topic, p, max(0, end - per_partition))
                                   for p, end in self.ends.items()], asynchronous=False)
        finally:
            client.close()

    def _produce(self, count: int, rate_per_s: float | None) -> None:
        producer = self._producer
        failures: list[str] = []

        def delivered(err: object, msg: object) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                partition = msg.partition()  # type: ignore[attr-defined]
                self.ends[partition] = max(self.ends[partition], msg.offset() + 1)  # type: ignore[attr-defined]

        started = time.monotonic()
        for n in range(count):
            if rate_per_s and n % max(1, int(rate_per_s / 100)) == 0:
                time.sleep(max(0.0, started + n / rate_per_s - time.monotonic()))
            index = self._sent
            self._sent += 1
            duplicate = self.duplicate_every and index and index % self.duplicate_every == 0
            message_id = f"m-{index - 1 if duplicate else index}".encode()
            while True:
                try:
                    producer.produce(self.topic, self._values[index % DISTINCT_VALUES],
                                     f"c-{index % 50_000}".encode(),
                                     partition=index % self.partitions,
                                     headers=[("message-id", message_id)],
                                     on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        if producer.flush(60) or failures:
            raise SystemExit(f"producing to {self.topic} failed: {failures[:3]}")
