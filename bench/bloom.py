"""Which Bloom filter the dedup stage uses, by measurement.

For each candidate, at the configured size (``--capacity`` ids, ``--error-rate``): µs per id
to add and to check (a check of an id never added: the common "surely not recorded" answer),
bits per id, and the false-positive rate measured over ``--queries`` ids never added, once
filled to capacity and once filled to twice the capacity (an undersized filter). Every
candidate gets the same id strings ("orders/<partition>/<n>"); timings include whatever turns
the id string into what the filter hashes, since the dedup stage pays that too.

Candidates:
- pybloom-live ``BloomFilter`` on the id string (the named default; stable: hashlib inside);
- rbloom with Python's ``hash()`` of the string (fast, but ``hash()`` of a str is salted per
  process, so two members or a restart disagree: unusable, shown for reference);
- rbloom with a Python hash function (XXH3-64 of the string) passed as ``hash_func``;
- rbloom on the XXH3 integer key with ``hash_func=int`` (savable, unlike the builtin hash);
- fastbloom-rs on the id strings, batch calls (hashing in Rust);
- fastbloom-rs on the XXH3 integer key (``redis_keys.bloom_key``), batch calls;
- ``consumer.bloom.WindowedBloom`` itself (fastbloom-rs, integer keys, two generations), as
  the dedup stage calls it, the key computation included.

Run: .venv/bin/python bench/bloom.py [--capacity 1000000] [--error-rate 0.001]
     [--queries 500000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import xxhash
from fastbloom_rs import BloomFilter as FastBloom
from pybloom_live import BloomFilter
from rbloom import Bloom

from consumer.bloom import WindowedBloom
from consumer.redis_keys import bloom_keys_of

BATCH = 500


@dataclass
class Candidate:
    name: str
    stable: str
    make: Callable[[int, float], Any]
    add: Callable[[Any, Sequence[str]], None]          # adds a batch of ids
    check: Callable[[Any, Sequence[str]], list[bool]]  # checks a batch of ids
    bits: Callable[[Any], int]


def _xxh3(text: str) -> int:
    # rbloom wants a signed 128-bit range; an unsigned 64-bit value fits
    return xxhash.xxh3_64_intdigest(text.encode())


def _keys(ids: Iterable[str]) -> list[int]:
    return bloom_keys_of(list(ids))


def _add_each(bloom: BloomFilter, ids: Sequence[str]) -> None:
    for i in ids:
        bloom.add(i)


CANDIDATES = [
    Candidate("pybloom-live BloomFilter(str)", "yes",
              lambda n, p: BloomFilter(n, p),
              _add_each,
              lambda f, ids: [i in f for i in ids],
              lambda f: f.num_bits),
    Candidate("rbloom, builtin hash(str)", "NO",
              lambda n, p: Bloom(n, p),
              lambda f, ids: f.update(ids),
              lambda f, ids: [i in f for i in ids],
              lambda f: f.size_in_bits),
    Candidate("rbloom, hash_func=xxh3(str) in Python", "yes",
              lambda n, p: Bloom(n, p, _xxh3),
              lambda f, ids: f.update(ids),
              lambda f, ids: [i in f for i in ids],
              lambda f: f.size_in_bits),
    Candidate("rbloom, xxh3 int key, hash_func=int", "yes",
              lambda n, p: Bloom(n, p, int),
              lambda f, ids: f.update(_keys(ids)),
              lambda f, ids: [k in f for k in _keys(ids)],
              lambda f: f.size_in_bits),
    Candidate("fastbloom-rs, str batch", "yes",
              lambda n, p: FastBloom(n, p),
              lambda f, ids: f.add_str_batch(ids),
              lambda f, ids: f.contains_str_batch(ids, False),
              lambda f: 8 * len(f.get_bytes())),
    Candidate("fastbloom-rs, xxh3 int key batch", "yes",
              lambda n, p: FastBloom(n, p),
              lambda f, ids: f.add_int_batch(_keys(ids)),
              lambda f, ids: f.contains_int_batch(_keys(ids), False),
              lambda f: 8 * len(f.get_bytes())),
    Candidate("consumer.bloom.WindowedBloom (2 gen)", "yes",
              lambda n, p: WindowedBloom(n, p, retention_s=3600, now=0),
              lambda f, ids: f.add(_keys(ids)),
              lambda f, ids: f.maybe_flags(_keys(ids)),
              lambda f: f.bits),
]


def ids_of(prefix: int, count: int) -> list[str]:
    return [f"orders/{prefix}/{n}" for n in range(count)]


def batches(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def timed_per_id(action: Callable[[Sequence[str]], object], ids: Sequence[str]) -> float:
    started = time.perf_counter()
    for batch in batches(ids):
        action(batch)
    return (time.perf_counter() - started) / len(ids) * 1e6


def measure(candidate: Candidate, capacity: int, error_rate: float, queries: int,
            repeat: int) -> dict:
    """Timings are the best of ``repeat`` passes (a shared machine only ever adds time)."""
    added = ids_of(0, capacity)
    strangers = ids_of(1, queries)
    add_us = check_us = float("inf")
    for _ in range(repeat):
        bloom = candidate.make(capacity, error_rate)
        add_us = min(add_us, timed_per_id(partial(candidate.add, bloom), added))
    positives = 0

    def check(batch: Sequence[str]) -> None:
        nonlocal positives
        positives += sum(candidate.check(bloom, batch))

    for _ in range(repeat):
        positives = 0
        check_us = min(check_us, timed_per_id(check, strangers))
    fp_at_capacity = positives / queries
    missed = sum(not hit for hit in candidate.check(bloom, added[:BATCH * 20]))
    bits = candidate.bits(bloom)
    try:
        for batch in batches(ids_of(2, capacity)):
            candidate.add(bloom, batch)
    except IndexError:                  # pybloom-live refuses adds past its capacity
        fp_2x = None
    else:
        positives = 0
        for batch in batches(strangers):
            check(batch)
        fp_2x = positives / queries
    return {"add_us": add_us, "check_us": check_us, "bits_per_id": bits / capacity,
            "fp": fp_at_capacity, "fp_2x": fp_2x, "missed": missed}


def salted_hash_differs() -> bool:
    code = "print(hash('orders/0/1'))"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    return len(outputs) == 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.001)
    parser.add_argument("--queries", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"capacity {args.capacity:,} ids, error rate {args.error_rate}, "
          f"{args.queries:,} queries of ids never added; batches of {BATCH}")
    print(f"Python hash() of a str differs between processes: {salted_hash_differs()}")
    print(f"{'candidate':40} {'stable':>6} {'add µs':>7} {'check µs':>8} {'bits/id':>8} "
          f"{'FP at cap':>9} {'FP at 2x':>8} {'missed':>6}")
    baseline = None
    for candidate in CANDIDATES:
        r = measure(candidate, args.capacity, args.error_rate, args.queries, args.repeat)
        baseline = baseline or r
        fp_2x = "refused" if r["fp_2x"] is None else f"{r['fp_2x']:.4f}"
        print(f"{candidate.name:40} {candidate.stable:>6} {r['add_us']:7.3f} "
              f"{r['check_us']:8.3f} {r['bits_per_id']:8.2f} {r['fp']:9.5f} "
              f"{fp_2x:>8} {r['missed']:6d}   "
              f"(add x{baseline['add_us'] / r['add_us']:.1f}, "
              f"check x{baseline['check_us'] / r['check_us']:.1f} vs pybloom-live)")
    print("bits/id is per generation: WindowedBloom keeps two once it has rotated, so the ids "
          "of one window cost twice that")


if __name__ == "__main__":
    main()
