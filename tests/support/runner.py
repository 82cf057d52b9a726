"""Running real ``consumer run`` processes the way an operator does, and reading back what
their handlers (tests/support/handlers.py) recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .kafka import GROUP_TIMINGS

REPO = Path(__file__).resolve().parents[2]


def run_consumer(*, bootstrap: str, topic: str, group: str, record_file: Path, log_file: Path,
                 handler: str = "tests.support.handlers:record", extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "consumer", "run", "--topic", topic, "--group", group,
            "--handler", handler, "--bootstrap", bootstrap, "--metrics-port", "0"]
    for key, value in GROUP_TIMINGS.items():
        args += ["-X", f"{key}={value}"]
    args += extra or []
    full_env = {**os.environ, "RECORD_FILE": str(record_file), **(env or {})}
    with open(log_file, "ab") as log:
        return subprocess.Popen(args, cwd=REPO, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 40) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout_s)


@dataclass(frozen=True)
class Event:
    kind: str       # "start" or "done"
    partition: int
    offset: int
    message_id: str
    key: str
    at: float       # time.monotonic() in the handler's process


def events(record_file: Path) -> list[Event]:
    if not record_file.exists():
        return []
    parsed = []
    for line in record_file.read_text().splitlines():
        kind, partition, offset, message_id, key, at = line.split(" ")
        parsed.append(Event(kind, int(partition), int(offset), message_id, key, float(at)))
    return parsed


def done_counts(record_file: Path) -> Counter[tuple[int, int]]:
    """(partition, offset) -> how many times its handler call finished."""
    return Counter((e.partition, e.offset) for e in events(record_file) if e.kind == "done")
