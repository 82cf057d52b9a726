"""What the benchmarks share: a broker to run on, topics filled with exact end offsets, and
the runtime run in-process with a counting handler so the clock stops at the last message."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumer import services  # noqa: E402
from consumer.cli import build_parser  # noqa: E402
from consumer.config import load_settings  # noqa: E402
from tests.support.kafka import GROUP_TIMINGS, create_topic, produce  # noqa: E402,F401


def start_broker(log_dir: Path) -> tuple[str, object]:
    """A Tansu broker of our own on a free port: nothing else's traffic in the figures."""
    port = services.free_port()
    bootstrap = f"{services.LOOPBACK}:{port}"
    proc = services.spawn(services.broker_command(port), log_dir / "bench-broker.log")
    services.wait_until(lambda: services.broker_answers(bootstrap), 30, "tansu", proc)
    return bootstrap, proc


def start_redis(log_dir: Path) -> tuple[str, object]:
    port = services.free_port()
    url = f"redis://{services.LOOPBACK}:{port}/0"
    proc = services.spawn(services.redis_command(port, log_dir), log_dir / "bench-redis.log")
    services.wait_until(lambda: services.redis_answers(url), 30, "redis", proc)
    return url, proc


def start_registry(log_dir: Path) -> tuple[str, object]:
    port = services.free_port()
    url = f"http://{services.LOOPBACK}:{port}"
    proc = services.spawn(services.registry_command(port, log_dir / "bench-registry.db"),
                          log_dir / "bench-registry.log")
    services.wait_until(lambda: services.registry_answers(url), 30, "registry", proc)
    return url, proc


class Counter:
    """Counts handler calls; notes when the first arrives and when ``target`` is reached."""

    def __init__(self) -> None:
        self.target = 0
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def reset(self, target: int) -> None:
        self.target, self.count, self.first, self.last = target, 0, 0.0, 0.0
        self.reached.clear()

    def hit(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == 1:
                self.first = time.perf_counter()
            if self.count == self.target:
                self.last = time.perf_counter()
                self.reached.set()


COUNTER = Counter()


def run_pipeline(args: Iterable[str], target: int, timeout_s: float = 300) -> float:
    """Runs ``consumer run ARGS`` in this process until ``target`` handler calls happened;
    returns messages per second from the first call to the last."""
    return run_pipeline_runtime(args, target, timeout_s)[0]


def run_pipeline_runtime(args: Iterable[str], target: int,
                         timeout_s: float = 300) -> tuple[float, object]:
    """``run_pipeline``, and the runtime it ran (for its counters)."""
    from consumer.app import build_runtime

    settings = load_settings(build_parser().parse_args(["run", *args]))
    runtime = build_runtime(settings)
    COUNTER.reset(target)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    reached = COUNTER.reached.wait(timeout_s)
    runtime.stopping.set()
    thread.join(60)
    if not reached:
        raise SystemExit(f"only {COUNTER.count} of {target} messages in {timeout_s}s")
    return target / (COUNTER.last - COUNTER.first), runtime


def tune_like_consumer_run() -> dict[str, int]:
    """Tunes this process's interpreter as ``consumer run`` does; returns the librdkafka
    settings it adds to the library's defaults, for a raw loop to use the same."""
    from consumer.kafka import FETCH_QUEUE_BACKOFF_MS
    from consumer.runtime import tune_interpreter

    tune_interpreter()
    return {"fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS}


def group_flags() -> list[str]:
    return [flag for key, value in GROUP_TIMINGS.items() for flag in ("-X", f"{key}={value}")]


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
