"""Measuring one contender of bench/compare.py from inside its own process (stdlib only: it
also runs in the peers' virtualenv).

The contender's handler calls ``PROBE.seen(timestamp_ms)`` for each record it sees. Records
written before the process started are its backlog: their count and the times of the first and
the last give the throughput. Records written after it started are the live load: for those
the probe keeps now minus the record's timestamp, the end-to-end latency. A thread writes the
counts, and when every MARK_EVERY-th backlog record was seen, to ``$BENCH_PROBE_DIR/<pid>.json``
a few times a second, so bench/compare.py follows every process of a contender (``consumer run
--processes 2`` has two members), and at exit the latencies to ``<pid>.lat``.

    consumer run --handler bench.probe:consumer_handler ...
"""

from __future__ import annotations

import array
import atexit
import bisect
import json
import os
import threading
import time
from typing import Any

PUBLISH_EVERY_S = 0.2
MARK_EVERY = 1000   # backlog records between two entries of the published timeline
ENV_DIR = "BENCH_PROBE_DIR"


class Probe:
    def __init__(self, out_dir: str) -> None:
        self._path = os.path.join(out_dir, str(os.getpid()))
        self._started_ms = time.time() * 1000.0
        self._lock = threading.Lock()   # handlers may run on several threads
        self.backlog = 0
        self.first_s = 0.0
        self.last_s = 0.0
        self.marks: list[float] = []   # when the MARK_EVERY-th, 2*MARK_EVERY-th ... was seen
        self.latencies_ms = array.array("d")
        self._closed = False
        threading.Thread(target=self._publish_loop, name="probe", daemon=True).start()
        atexit.register(self.close)

    def seen(self, timestamp_ms: float) -> None:
        now = time.time()
        if timestamp_ms < self._started_ms:
            with self._lock:
                self.backlog += 1
                if not self.first_s:
                    self.first_s = now
                self.last_s = now
                if not self.backlog % MARK_EVERY:
                    self.marks.append(now)
        else:
            self.latencies_ms.append(now * 1000.0 - timestamp_ms)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with open(self._path + ".lat.partial", "wb") as out:
            self.latencies_ms.tofile(out)
        os.replace(self._path + ".lat.partial", self._path + ".lat")
        self._publish(final=True)

    def _publish_loop(self) -> None:
        while not self._closed:
            self._publish(final=False)
            time.sleep(PUBLISH_EVERY_S)

    def _publish(self, final: bool) -> None:
        state = {"backlog": self.backlog, "live": len(self.latencies_ms),
                 "first_s": self.first_s, "last_s": self.last_s, "marks": self.marks[:],
                 "final": final}
        partial = f"{self._path}.json.{threading.get_ident()}.partial"
        with open(partial, "w") as out:
            json.dump(state, out)
        os.replace(partial, self._path + ".json")


PROBE = Probe(os.environ[ENV_DIR]) if os.environ.get(ENV_DIR) else None


def consumer_handler(msg: Any) -> None:
    """The trivial handler of ``consumer run``: sees the decoded record, does nothing else."""
    PROBE.seen(msg.timestamp)  # type: ignore[union-attr]


def read_states(out_dir: str) -> list[dict[str, Any]]:
    """What every process of a contender published so far (for bench/compare.py)."""
    states = []
    for name in os.listdir(out_dir):
        if name.endswith(".json"):
            try:
                with open(os.path.join(out_dir, name)) as handle:
                    states.append({"pid": int(name[:-5]), **json.load(handle)})
            except (OSError, ValueError):
                continue  # being replaced right now: read again on the next look
    return states


def backlog_read_by(state: dict[str, Any], at_s: float) -> float:
    """How many backlog records a process had seen at ``at_s``, from its published timeline
    (linear between two marks)."""
    times = [state["first_s"], *state["marks"], state["last_s"]]
    counts = [1, *range(MARK_EVERY, MARK_EVERY * len(state["marks"]) + 1, MARK_EVERY),
              state["backlog"]]
    after = bisect.bisect_left(times, at_s)
    if after == 0:
        return counts[0]
    if after == len(times):
        return counts[-1]
    t0, t1, c0, c1 = times[after - 1], times[after], counts[after - 1], counts[after]
    return c0 + (c1 - c0) * (at_s - t0) / (t1 - t0)


def read_latencies(out_dir: str) -> list[float]:
    latencies = array.array("d")
    for name in os.listdir(out_dir):
        if name.endswith(".lat"):
            with open(os.path.join(out_dir, name), "rb") as handle:
                latencies.frombytes(handle.read())
    return sorted(latencies)
