"""What metrics cost the hot path.

1. Per call: OpenTelemetry's own ``Histogram.record()`` / ``Counter.add()`` against our batch
   methods at batch sizes 1, 20, 500 and 10,000.
2. Per message: the calls the runtime makes per batch (messages, two histograms, in-flight,
   dedup, Redis round trips, null counts), divided by the batch size, and the same done the
   naive way (OpenTelemetry per message).
3. Throughput with metrics on vs off, measured in this run on a stand-in pipeline: fastavro
   decoding an 8-field order (the Avro case) or handing bytes on (the bytes case), a message
   object and a handler call per message, 500 messages a batch, with a thread scraping
   ``/metrics`` every second. Rates are per CPU second of this process, so other work on a
   shared machine does not skew the ratio, summed over many short on/off slices interleaved.

Run: .venv/bin/python bench/metrics_cost.py [--slice 0.1] [--pairs 40]
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections.abc import Callable
from functools import partial

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from consumer.metrics import Metrics, MetricsSettings, PrometheusMetrics
from consumer.null_counts import count_nulls

ORDER = parse_schema({
    "type": "record", "name": "Order", "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer_id", "type": "string"},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "amount_cents", "type": "long"},
        {"name": "currency", "type": "string"},
        {"name": "created_at", "type": "long"},
        {"name": "coupon", "type": ["null", "string"], "default": None},
        {"name": "items", "type": {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [
                {"name": "sku", "type": "string"}, {"name": "quantity", "type": "int"}]}}},
    ]})
NULLABLE = ("email", "coupon")
BATCH_SIZES = (1, 20, 500, 10_000)
PIPELINE_BATCH = 500


def per_call_us(action: Callable[[], object], min_seconds: float = 0.3) -> float:
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(100):
            action()
        calls += 100
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / calls * 1e6


def runtime_batch_calls(metrics: Metrics, seconds: list[float], records: list[dict]) -> None:
    """What the runtime calls once per batch."""
    n = len(seconds)
    metrics.messages("processed", n)
    metrics.processing_seconds(seconds)
    metrics.end_to_end_seconds(seconds)
    metrics.in_flight(n)
    metrics.dedup_checks("bloom_negative", n)
    metrics.redis_roundtrips(1)
    if metrics.enabled:
        metrics.null_fields(count_nulls(records, NULLABLE), n)


def otel_naive(n: int) -> Callable[[], None]:
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=CollectorRegistry())])
    meter = provider.get_meter("bench")
    processing, end_to_end = meter.create_histogram("p", unit="s"), meter.create_histogram("e")
    counter = meter.create_counter("m")
    topic, outcome = {"topic": "orders"}, {"topic": "orders", "outcome": "processed"}

    def per_message() -> None:
        for _ in range(n):
            processing.record(0.002, topic)
            end_to_end.record(0.05, topic)
            counter.add(1, outcome)
    return per_message


def encoded_orders(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        buffer = io.BytesIO()
        schemaless_writer(buffer, ORDER, {
            "order_id": f"o-{i}", "customer_id": f"c-{i % 97}",
            "email": None if i % 5 else f"u{i}@example.com", "amount_cents": 1999 + i,
            "currency": "EUR", "created_at": 1_790_000_000_000 + i, "coupon": None,
            "items": [{"sku": "A-1", "quantity": 1}, {"sku": "B-2", "quantity": 3}]})
        out.append(buffer.getvalue())
    return out


class StandInMessage:
    """What the runtime builds per message before calling the handler."""

    __slots__ = ("key", "message_id", "offset", "partition", "timestamp", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, value: object) -> None:
        self.topic, self.partition, self.offset, self.value = topic, partition, offset, value
        self.key, self.timestamp = None, 0
        self.message_id = f"{topic}/{partition}/{offset}"


def handle(message: StandInMessage) -> None:
    """A handler with nothing to do: the runtime's own per-message cost is all that is left."""


def pipeline_slice(metrics: Metrics, payloads: list[bytes], avro: bool,
                   seconds: float) -> tuple[int, float]:
    """Messages through decode (Avro) or not (bytes), a message object and a handler call each,
    and the per-batch metric calls; with the CPU seconds of this process they took (the scrape
    thread included, other processes on the machine not)."""
    done, cpu_started = 0, time.process_time()
    while time.process_time() - cpu_started < seconds:
        batch_started = time.perf_counter()
        records: list[dict] = ([schemaless_reader(io.BytesIO(p), ORDER, None)  # type: ignore[misc]
                                for p in payloads] if avro else [])
        for offset, value in enumerate(records or payloads, done):
            handle(StandInMessage("orders", 0, offset, value))
        took = (time.perf_counter() - batch_started) / len(payloads)
        runtime_batch_calls(metrics, [took] * len(payloads), records)
        done += len(payloads)
    return done, time.process_time() - cpu_started


def scraping(metrics: PrometheusMetrics, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(1.0):
            generate_latest(metrics.registry)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slice", type=float, default=0.1,
                        help="CPU seconds of one on or off throughput slice")
    parser.add_argument("--pairs", type=int, default=40, help="on/off slice pairs per case")
    args = parser.parse_args()
    on = PrometheusMetrics(MetricsSettings("orders", "billing"))
    off = Metrics()
    records = [{"email": None, "coupon": "X"}] * 10_000

    print("1. per call (µs)")
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=CollectorRegistry())])
    meter = provider.get_meter("bench")
    histogram, counter = meter.create_histogram("h", unit="s"), meter.create_counter("c")
    print(f"   otel Histogram.record(1 value)   {per_call_us(lambda: histogram.record(0.002, {'topic': 'orders'})):8.2f}")
    print(f"   otel Counter.add                 {per_call_us(lambda: counter.add(1, {'topic': 'orders'})):8.2f}")
    print(f"   ours messages()                  {per_call_us(lambda: on.messages('processed', 500)):8.2f}")
    print(f"   ours lag()                       {per_call_us(lambda: on.lag(3, 10, 1.5)):8.2f}")
    print(f"   ours in_flight()                 {per_call_us(lambda: on.in_flight(7)):8.2f}")
    for n in BATCH_SIZES:
        values = [0.0001 * (i % 900) for i in range(n)]
        cost = per_call_us(partial(on.processing_seconds, values))
        print(f"   ours processing_seconds({n:>6})  {cost:8.2f}  = {cost / n * 1000:7.1f} ns/value")

    print("2. per message, all the runtime's per-batch calls (µs/message)")
    for n in BATCH_SIZES:
        values = [0.0001 * (i % 900) for i in range(n)]
        batch = records[:n]
        ours = per_call_us(partial(runtime_batch_calls, on, values, batch)) / n
        nothing = per_call_us(partial(runtime_batch_calls, off, values, batch)) / n
        naive = per_call_us(otel_naive(n), 0.2) / n
        print(f"   batch {n:>6}: ours on {ours:6.3f}  off {nothing:6.3f}  otel per message {naive:6.2f}"
              f"  -> share of a 16 µs Avro message {ours / 16:6.1%}, of a 5 µs bytes message "
              f"{ours / 5:6.1%}")

    print(f"3. throughput per CPU second, metrics on vs off (batches of {PIPELINE_BATCH}, "
          "scraped every 1 s)")
    payloads = encoded_orders(PIPELINE_BATCH)
    stop = threading.Event()
    scraping(on, stop)
    for label, avro in (("avro", True), ("bytes", False)):
        totals = {False: [0, 0.0], True: [0, 0.0]}
        halves = []
        for pair in range(args.pairs):
            # ABBA order, so drift on a shared machine falls on both sides alike.
            for enabled in ((False, True) if pair % 2 else (True, False)):
                done, cpu_s = pipeline_slice(on if enabled else off, payloads, avro, args.slice)
                totals[enabled][0] += done
                totals[enabled][1] += cpu_s
            if pair + 1 in (args.pairs // 2, args.pairs):
                halves.append((totals[True][0] / totals[True][1]) /
                              (totals[False][0] / totals[False][1]))
        rate_on = totals[True][0] / totals[True][1]
        rate_off = totals[False][0] / totals[False][1]
        print(f"   {label:5}: off {rate_off:>10,.0f} msg/s  on {rate_on:>10,.0f} msg/s  "
              f"ratio on/off {rate_on / rate_off:.3f} (after half the pairs: {halves[0]:.3f})")
    stop.set()
    started = time.perf_counter()
    generate_latest(on.registry)
    print(f"4. one scrape (render /metrics): {(time.perf_counter() - started) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
