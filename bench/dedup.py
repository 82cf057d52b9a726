"""The dedup store alone, on a real redis-server (started here on a free loopback port with
``consumer.services``, or ``--redis URL``).

A stream of ``--messages`` ids in batches of ``--batch`` (500), 1% of them duplicates of ids
recorded earlier; per batch the store is asked ``seen`` and told ``record`` for the fresh ids,
as the runtime does. With ``--members 2`` the batches alternate between two stores of one
group, so each also reads the other's record-log entries. Printed:

1. µs per message for seen+record: wall time and this process's CPU time, and Redis's CPU per
   message (INFO cpu), in steady state (after ``--warmup`` batches);
2. Redis round trips per message (target: at most 0.05) and how checks were answered;
3. the ratio against a baseline measured in the same run, interleaved batch by batch with the
   dedup calls so load on a shared machine hits both alike: a fastavro decode of an 8-field
   order per message, the per-message ceiling of an Avro pipeline (field-notes: ~8.8 µs).
   ``decode / (decode + dedup CPU)`` is the throughput ratio dedup on/off of a pipeline that
   did nothing but decode (target: at least 0.7; a handler's own work only raises it);
4. Redis memory per id: INFO used_memory before and after, and MEMORY USAGE of the done sets
   and of the record log (untrimmed here: no snapshot interval passes in the run).

Run: .venv/bin/python bench/dedup.py [--messages 200000] [--members 1] [--redis URL]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from consumer import services
from consumer.dedup import DedupStore
from consumer.dedup_settings import DedupSettings

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


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as workdir:
        port = services.free_port()
        proc = services.spawn(services.redis_command(port, Path(workdir)),
                              Path(workdir) / "redis.log")
        try:
            url = f"redis://{services.LOOPBACK}:{port}/0"
            services.wait_until(lambda: services.redis_answers(url), 20, "redis-server", proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def batches(total: int, size: int, duplicate_share: float) -> Iterator[tuple[list[str], int]]:
    """(batch, how many of its ids are duplicates of earlier batches)."""
    rng = random.Random(7)
    sent: list[str] = []
    n = 0
    while n < total:
        dups = sum(rng.random() < duplicate_share for _ in range(size)) if sent else 0
        fresh = [f"orders/{n % 12}/{n + i}" for i in range(size - dups)]
        batch = fresh + rng.sample(sent[-100_000:], dups)
        rng.shuffle(batch)
        sent += fresh
        n += size
        yield batch, dups


def order_payload() -> bytes:
    record = {"order_id": "o-1", "customer_id": "c-1", "email": None, "amount_cents": 1234,
              "currency": "EUR", "created_at": 1_700_000_000_000, "coupon": None,
              "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]}
    buffer = io.BytesIO()
    schemaless_writer(buffer, ORDER, record)
    return buffer.getvalue()


def decode_cpu_s(payload: bytes, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        schemaless_reader(io.BytesIO(payload), ORDER, None)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--duplicates", type=float, default=0.01)
    parser.add_argument("--members", type=int, default=1, choices=(1, 2))
    parser.add_argument("--warmup", type=int, default=20, help="batches before timing")
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()
    with redis_server(args.redis) as url:
        client = redis.Redis.from_url(url)
        settings = DedupSettings(group=f"bench-{random.randrange(10**9)}")
        members = [DedupStore(url, settings) for _ in range(args.members)]
        memory_before = int(client.info("memory")["used_memory"])
        payload = order_payload()
        wall = cpu = decode = 0.0
        timed = wrong = recorded = 0
        cpu_redis_before = 0.0
        for index, (batch, dups) in enumerate(batches(args.messages, args.batch,
                                                      args.duplicates)):
            store = members[index % args.members]
            if index == args.warmup:
                before = [m.counters for m in members]
                info = client.info("cpu")
                cpu_redis_before = info["used_cpu_user"] + info["used_cpu_sys"]
            t0, c0 = time.perf_counter(), time.process_time()
            flags = store.seen(batch)
            fresh = [i for i, seen in zip(batch, flags, strict=True) if not seen]
            store.record(fresh)
            if index >= args.warmup:
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                timed += len(batch)
                decode += decode_cpu_s(payload, len(batch))
            wrong += abs(sum(flags) - dups)
            recorded += len(fresh)
        info = client.info("cpu")
        cpu_redis = info["used_cpu_user"] + info["used_cpu_sys"] - cpu_redis_before
        after = [m.counters for m in members]
        memory_after = int(client.info("memory")["used_memory"])
        done_keys = client.keys(f"consumer:{{{settings.group}}}:dedup:done:*")
        marks_bytes = sum(int(client.memory_usage(k, samples=0) or 0) for k in done_keys)
        log_bytes = int(client.memory_usage(f"consumer:{{{settings.group}}}:dedup:log",
                                            samples=0) or 0)
        snapshot_bytes = sum(int(client.memory_usage(k, samples=0) or 0) for k in
                             client.keys(f"consumer:{{{settings.group}}}:dedup:snapshot:*"))
        for member in members:
            member.close()

    def delta(field: str) -> int:
        return sum(getattr(a, field) - getattr(b, field) for a, b in zip(after, before,
                                                                          strict=True))

    roundtrips = delta("redis_roundtrips")
    decode_us = decode / timed * 1e6
    dedup_cpu = cpu / timed * 1e6
    print(f"{args.messages:,} messages, batches of {args.batch}, {args.duplicates:.0%} "
          f"duplicates, {args.members} member(s); timed {timed:,} after {args.warmup} batches")
    print(f"answers wrong: {wrong}")
    print(f"1. seen+record per message: wall {wall / timed * 1e6:.2f} µs, "
          f"client CPU {dedup_cpu:.2f} µs, Redis CPU {cpu_redis / timed * 1e6:.2f} µs")
    print(f"2. Redis round trips per message: {roundtrips / timed:.4f} "
          f"({roundtrips} in {timed:,}); checks: bloom_negative {delta('bloom_negative'):,}, "
          f"redis_hit {delta('redis_hit'):,}, redis_miss {delta('redis_miss'):,}")
    print(f"3. baseline Avro decode {decode_us:.2f} µs/message -> throughput ratio dedup "
          f"on/off for a decode-only pipeline: {decode_us / (decode_us + dedup_cpu):.2f}")
    print(f"4. Redis memory for {recorded:,} recorded ids: used_memory "
          f"{(memory_after - memory_before) / recorded:.1f} B/id; done marks "
          f"{marks_bytes / recorded:.1f} B/id; record log (untrimmed) {log_bytes / recorded:.1f}"
          f" B/id; snapshots {snapshot_bytes:,} B in total")


if __name__ == "__main__":
    main()
