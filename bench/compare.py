"""Side by side on the same Avro records, in one run: two ceilings (a raw confluent-kafka
``consume()`` loop, and the same loop decoding with fastavro), ``consumer run`` with the full
pipeline (registry Avro, dedup on Redis, metrics, a trivial handler, at-least-once commits)
with one and two processes, and the Python peers doing the same decode and handler at least
once: Quix Streams and FastStream (aiokafka and confluent-kafka flavours).

Each contender runs in its own process tree (so its RSS is its own) and its own group, on a
topic of its own, filled with the same backlog just before it starts and deleted after. (One
topic for all would not be fair on Tansu 0.6.0: every live load leaves thousands of one-record
batches behind, and the broker's cost per record fetched grows with the batches a partition
holds, bench/RESULTS.md.) msgs/s is measured on that backlog, from the first record its handler
sees to the last (with several processes, while all of them read: ``_rates``). Then a live load
of records at a fixed rate is produced while it runs: p50/p99 end-to-end latency is now minus
the record's timestamp when the handler sees it. Peak RSS is sampled over the contender's whole
tree, and the cores in use while the backlog is read (CPU seconds over wall seconds, from
/proc) are counted for the contender's tree, the broker and Redis: on a small machine they
share the cores. Contenders take turns, round after round; a ratio between two is the median of
their ratios within each round.

    .venv/bin/python bench/compare.py [--messages N] [--rounds R] [--only NAME ...]

The peers need their own virtualenv (Quix Streams pins confluent-kafka below ours):
    python3 -m venv .venv-bench && .venv-bench/bin/pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import REPO, group_flags, start_broker, start_redis, start_registry, unique  # type: ignore
from confluent_kafka.admin import AdminClient
from orders_feed import SCHEMA_FILE, OrdersTopic
from probe import ENV_DIR, backlog_read_by, read_latencies, read_states

from consumer import services
from tests.support.kafka import create_topic

BENCH = Path(__file__).resolve().parent
PEERS = ("quix", "faststream-kafka", "faststream-confluent")
CONTENDERS = ("raw", "raw-avro", "raw-avro-tuned", "consumer-run", "consumer-run-p2", *PEERS)
LABELS = {"raw": "raw consume() loop", "raw-avro": "raw loop + fastavro",
          "raw-avro-tuned": "raw loop + fastavro, tuned",
          "consumer-run": "consumer run (full)", "consumer-run-p2": "consumer run --processes 2",
          "quix": "Quix Streams", "faststream-kafka": "FastStream (aiokafka)",
          "faststream-confluent": "FastStream (confluent)"}


@dataclass
class Result:
    backlog: int
    rate: float
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    cores: dict[str, float]   # what was in use while the backlog was read: contender, broker, redis
    wall_rate: float          # see _rates
    start_spread_s: float


class RssSampler:
    """Peak resident memory of a process and all its descendants (from /proc: Linux), sampled
    every 0.25 s; the tree is looked up again every 2 s (members start after their parent)."""

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._root = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tree, looked_at = [self._root], time.monotonic()
        while not self._stop.wait(0.25):
            if time.monotonic() - looked_at > 2:
                tree, looked_at = _descendants(self._root), time.monotonic()
            total = 0
            for pid in tree:
                try:
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.PAGE
                except (OSError, IndexError, ValueError):
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree = [root]
    for pid in tree:  # grows while walked: children, then theirs
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS_PER_S


class CoreMeter:
    """Cores in use by each named group of processes between ``start`` and ``stop``."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._at: tuple[float, dict[str, float]] | None = None
        self.cores: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {name: cpu_seconds(pids()) for name, pids in self._groups.items()}

    def start(self) -> None:
        self._at = (time.monotonic(), self._read())

    def stop(self) -> None:
        if self._at is None:
            return
        began, before = self._at
        wall = max(time.monotonic() - began, 1e-9)
        self.cores = {name: (used - before[name]) / wall for name, used in self._read().items()}


def command(name: str, o: argparse.Namespace, s: dict[str, str], topic: str,
            group: str) -> list[str]:
    if name.startswith("consumer-run"):
        return [sys.executable, "-m", "consumer", "run", "--topic", topic, "--group", group,
                "--bootstrap", s["bootstrap"], "--registry", s["registry"], "--redis", s["redis"],
                "--handler", "bench.probe:consumer_handler", "--value-format", "avro",
                "--metrics-port", str(services.free_port()), "--log-format", "json",
                "--processes", "2" if name.endswith("p2") else "1", *group_flags(),
                *(["-X", f"fetch.wait.max.ms={o.fetch_wait_ms}"] if o.fetch_wait_ms else [])]
    python = sys.executable if name.startswith("raw") else o.peers_python
    return [python, str(BENCH / "contenders.py"), name, "--bootstrap", s["bootstrap"],
            "--topic", topic, "--group", group, "--schema", str(SCHEMA_FILE),
            "--state-dir", s["workdir"] + "/quix-state",
            *(["--fetch-wait-ms", str(o.fetch_wait_ms)] if o.fetch_wait_ms else [])]


def filled_topic(o: argparse.Namespace, s: dict[str, str], backlog: int) -> OrdersTopic:
    feed = OrdersTopic(s["bootstrap"], s["registry"], unique("orders"), o.partitions)
    create_topic(s["bootstrap"], feed.topic, o.partitions)
    feed.fill(backlog)
    return feed


def drop_topic(bootstrap: str, topic: str) -> None:
    """Tansu keeps every topic in memory: each contender finds the broker holding the same."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topic], operation_timeout=30)[topic].result()


def measure(name: str, o: argparse.Namespace, s: dict[str, str],
            services_pids: dict[str, int]) -> Result:
    backlog = o.faststream_backlog if name.startswith("faststream") else o.messages
    feed = filled_topic(o, s, backlog)
    try:
        return _measure(name, o, s, feed, backlog, services_pids)
    finally:
        drop_topic(s["bootstrap"], feed.topic)


def _measure(name: str, o: argparse.Namespace, s: dict[str, str], feed: OrdersTopic,
             backlog: int, services_pids: dict[str, int]) -> Result:
    group = unique(name)
    feed.start_group_at_backlog(group, backlog)
    probe_dir = tempfile.mkdtemp(dir=s["workdir"])
    with open(Path(s["workdir"]) / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(command(name, o, s, feed.topic, group), cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, ENV_DIR: probe_dir})
    rss = RssSampler(proc.pid)
    groups: dict[str, Callable[[], list[int]]] = {"contender": lambda: _descendants(proc.pid)}
    for service, pid in services_pids.items():
        groups[service] = functools.partial(list, (pid,))
    meter = CoreMeter(groups)
    try:
        _wait(proc, probe_dir, "backlog", 1, o.timeout_s, name)
        meter.start()
        _wait(proc, probe_dir, "backlog", backlog, o.timeout_s, name)
        meter.stop()
        rate, wall_rate, start_spread_s = _rates(read_states(probe_dir))
        feed.live(o.live_rate * o.live_seconds, o.live_rate)
        _wait(proc, probe_dir, "live", o.live_rate * o.live_seconds, 60, name)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        peak = rss.stop()
    latencies = read_latencies(probe_dir)
    if not latencies:
        raise SystemExit(f"{name}: no latencies written (see its log in {s['workdir']})")
    return Result(backlog, rate, _percentile(latencies, 50), _percentile(latencies, 99),
                  peak / 2**20, meter.cores, wall_rate, start_spread_s)


def _rates(states: list[dict[str, Any]]) -> tuple[float, float, float]:
    """The contender's rate: the records its processes read while all of them were reading
    (from the last one's first record to the first one's last), over that time; with one
    process, its backlog over its first to last record. Beside it, the wall rate (all records over
    the first to the last of any) and how far apart the processes saw their first records.
    Members of a new group on Tansu sometimes start apart: a follower's SyncGroup that reaches
    it before the leader's is answered ~1 s later (bench/RESULTS.md), a second in which one
    member reads alone, faster than with the other beside it; the wall rate counts that second
    against the pair, and the sum of each member's own rate counted it for them."""
    readers = [st for st in states if st["backlog"] and st["last_s"] > st["first_s"]]
    total = sum(st["backlog"] for st in states)
    starts = [st["first_s"] for st in readers]
    wall = max(st["last_s"] for st in readers) - min(starts)
    together_from, together_to = max(starts), min(st["last_s"] for st in readers)
    if together_to <= together_from:   # one after the other: no time when all were reading
        return total / wall, total / wall, max(starts) - min(starts)
    read = sum(backlog_read_by(st, together_to) - backlog_read_by(st, together_from)
               for st in readers)
    return read / (together_to - together_from), total / wall, max(starts) - min(starts)


def _wait(proc: subprocess.Popen[bytes], probe_dir: str, field: str, target: int,
          timeout_s: float, name: str) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(st[field] for st in read_states(probe_dir)) < target:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            seen = sum(st[field] for st in read_states(probe_dir))
            raise SystemExit(f"{name}: only {seen} of {target} {field} records in {timeout_s}s")
        time.sleep(0.1)


def _percentile(ordered: list[float], pct: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600_000, help="backlog per contender")
    parser.add_argument("--faststream-backlog", type=int, default=20_000,
                        help="FastStream's backlog (it reads ~2k msg/s at least once)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--live-rate", type=int, default=500,
                        help="live records per second (below every contender's capacity)")
    parser.add_argument("--live-seconds", type=int, default=6)
    parser.add_argument("--fetch-wait-ms", type=int, help="fetch.wait.max.ms (or the peer's "
                        "equivalent) for every contender; default: each library's own (500)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; medians are shown")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--timeout-s", type=float, default=300)
    parser.add_argument("--peers-python", default=os.environ.get(
        "BENCH_PEERS_PYTHON", str(REPO / ".venv-bench" / "bin" / "python")))
    o = parser.parse_args()
    if set(o.only) & set(PEERS) and not Path(o.peers_python).exists():
        parser.error(f"no peers' interpreter at {o.peers_python} (see --help)")
    workdir = tempfile.mkdtemp(prefix="bench-compare-")
    started = [start_broker(Path(workdir)), start_registry(Path(workdir)),
               start_redis(Path(workdir))]
    try:
        s = {"bootstrap": started[0][0], "registry": started[1][0], "redis": started[2][0],
             "workdir": workdir}
        services_pids = {"broker": started[0][1].pid, "redis": started[2][1].pid}  # type: ignore[attr-defined]
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        results: dict[str, list[Result]] = {name: [] for name in o.only}
        for round_no in range(o.rounds):  # contenders take turns, so load hits them alike
            for name in o.only:
                result = measure(name, o, s, services_pids)
                results[name].append(result)
                print(f"round {round_no + 1}: {LABELS[name]:<28} {result.rate:>9,.0f} msg/s  "
                      f"(wall {result.wall_rate:>9,.0f}, starts {result.start_spread_s:4.2f} s "
                      "apart)  "
                      f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:7.1f} ms  "
                      f"RSS {result.peak_rss_mb:5.0f} MB  cores {_cores(result.cores)}",
                      flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print_table({name: _median(rs) for name, rs in results.items()}, o, results)
    finally:
        for _, proc in reversed(started):
            proc.terminate()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)


TARGETS = (  # issue 7: (ratio, numerator, denominator, at least)
    ("full pipeline / decoding raw loop", "consumer-run", "raw-avro", 0.6),
    ("full pipeline / Quix Streams", "consumer-run", "quix", 1.5),
    ("full pipeline / FastStream (aiokafka)", "consumer-run", "faststream-kafka", 10.0),
    ("full pipeline / FastStream (confluent)", "consumer-run", "faststream-confluent", 10.0),
    ("--processes 2 / --processes 1", "consumer-run-p2", "consumer-run", 1.6),
)
# Not the baseline, shown beside it: the decoding loop tuned as ``consumer run`` is.
REFERENCES = (("full pipeline / decoding loop, tuned", "consumer-run", "raw-avro-tuned"),)


def print_table(results: dict[str, Result], o: argparse.Namespace,
                rounds: dict[str, list[Result]]) -> None:
    print(f"\norders v1 Avro, {o.partitions} partitions; backlog {o.messages:,} records "
          f"(FastStream {o.faststream_backlog:,}); live load {o.live_rate}/s for "
          f"{o.live_seconds}s; fetch wait {o.fetch_wait_ms or 'library default'} ms; "
          f"median of {o.rounds} round(s)\n")
    print("| contender | msgs/s | x decoding raw loop | p50 latency | p99 latency | peak RSS "
          "| cores: contender / broker / redis |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        ratio = f"{_ratio(rounds, name, 'raw-avro'):.2f}" if "raw-avro" in rounds else "-"
        print(f"| {LABELS[name]} | {r.rate:,.0f} | {ratio} | {r.p50_ms:.1f} ms "
              f"| {r.p99_ms:.1f} ms | {r.peak_rss_mb:.0f} MB | {_cores(r.cores)} |")
    print()
    for what, numerator, denominator, target in TARGETS:
        if numerator in results and denominator in results:
            ratios = _round_ratios(rounds, numerator, denominator)
            achieved = statistics.median(ratios)
            verdict = "met" if achieved >= target else "MISSED"
            met = sum(r >= target for r in ratios)
            per_round = (f"  rounds {', '.join(f'{r:.2f}' for r in ratios)} "
                         f"({met} of {len(ratios)} met)") if len(ratios) > 1 else ""
            print(f"{what:<40} {achieved:7.2f}   target >= {target:g}: {verdict:<6}{per_round}")
    for what, numerator, denominator in REFERENCES:
        if numerator in results and denominator in results:
            print(f"{what:<40} {_ratio(rounds, numerator, denominator):7.2f}")


def _round_ratios(rounds: dict[str, list[Result]], numerator: str,
                  denominator: str) -> list[float]:
    """The ratio within each round. A ratio's figure is the median of these, not the ratio of
    the two medians: the contenders of a round ran minutes apart, on a machine whose speed
    drifts, and two medians may come from rounds far apart."""
    return [n.rate / d.rate for n, d in zip(rounds[numerator], rounds[denominator], strict=True)]


def _ratio(rounds: dict[str, list[Result]], numerator: str, denominator: str) -> float:
    return statistics.median(_round_ratios(rounds, numerator, denominator))


def _cores(cores: dict[str, float]) -> str:
    return " / ".join(f"{cores.get(k, 0.0):.2f}" for k in ("contender", "broker", "redis"))


def _median(results: list[Result]) -> Result:
    return Result(results[0].backlog, statistics.median(r.rate for r in results),
                  statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results),
                  statistics.median(r.peak_rss_mb for r in results),
                  {k: statistics.median(r.cores.get(k, 0.0) for r in results)
                   for k in results[0].cores},
                  statistics.median(r.wall_rate for r in results),
                  statistics.median(r.start_spread_s for r in results))


if __name__ == "__main__":
    main()
