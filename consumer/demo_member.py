"""The demo's orders consumer: a real ``consumer run`` process, as an operator starts it, read
through its /metrics and stopped with SIGTERM (a clean drain). It can never outlive the demo:
it sits in its own session, so Ctrl-C reaches the demo alone, which then stops it; and on Linux
the kernel sends it SIGTERM should the demo die without cleaning up (kill -9)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .constants import METRIC_MESSAGES
from .services import LOOPBACK, free_port

# Tansu admits a member after about session.timeout.ms/2: 3 s with these, 23 s by default.
GROUP_TIMINGS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
SHUTDOWN_TIMEOUT_S = 15
SCRAPE_TIMEOUT_S = 1.0
_PR_SET_PDEATHSIG = 1
# Looked up here, not in the child: between fork and exec, loading a library could deadlock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


@dataclass(frozen=True)
class MemberSpec:
    topic: str
    group: str
    handler: str
    reader_schema: Path
    metrics_port: int
    max_attempts: int
    services: dict[str, str]
    """``bootstrap``, ``registry`` and ``redis`` addresses."""
    env: dict[str, str] = field(default_factory=dict)
    """Shown in front of the command line, as a person would set it."""

    def arguments(self) -> list[str]:
        """What follows ``consumer run``: the flags a person would type."""
        return ["--topic", self.topic, "--group", self.group, "--handler", self.handler,
                "--reader-schema", str(self.reader_schema),
                "--max-attempts", str(self.max_attempts),
                "--metrics-port", str(self.metrics_port)]

    def shown(self, cwd: Path, *, background: bool = False) -> str:
        """The command line as the user could type it from ``cwd``."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        args = [shown_path(a, cwd) for a in self.arguments()]
        return " ".join(filter(None, (env, "consumer run", shlex.join(args),
                                      "&" if background else "")))

    def command(self) -> list[str]:
        timings = [arg for key, value in GROUP_TIMINGS.items() for arg in ("-X", f"{key}={value}")]
        return [sys.executable, "-m", "consumer", "run", *self.arguments(),
                "--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S),
                "--bootstrap", self.services["bootstrap"],
                "--registry", self.services["registry"], "--redis", self.services["redis"],
                *timings]

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"


def metrics_port(preferred: int) -> int:
    """``preferred`` when the consumer's metrics server could bind it, else a free port. Tested
    the way that server binds (all interfaces, SO_REUSEADDR): a port that only lingers in
    TIME_WAIT after an earlier consumer's scrapes is still usable."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", preferred))
            return preferred
        except OSError:
            return free_port()


def shown_path(text: str, cwd: Path) -> str:
    """A path argument relative to ``cwd`` when it lies below it; anything else unchanged."""
    path = Path(text)
    if path.is_absolute() and path.is_relative_to(cwd):
        return str(path.relative_to(cwd))
    return text


def outcome_counts(metrics_text: str) -> Counter[str]:
    """``consumer_messages_total`` by outcome, summed over topics."""
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == METRIC_MESSAGES:
                counts[sample.labels.get("outcome", "")] += int(sample.value)
    return counts


def _die_with_parent() -> None:
    assert _prctl is not None
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Member:
    """One running ``consumer run``; ``stop()`` is safe to call any number of times."""

    def __init__(self, spec: MemberSpec, *, cwd: Path, log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        """``env``: more environment, on top of the spec's."""
        self.spec = spec
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                spec.command(), cwd=cwd, env={**os.environ, **(env or {}), **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent if _prctl is not None else None)

    @property
    def exit_status(self) -> int | None:
        return self._proc.poll()

    def counts(self) -> Counter[str] | None:
        """Its outcome counters, or None while its metrics do not answer (starting up)."""
        try:
            with urllib.request.urlopen(self.spec.metrics_url, timeout=SCRAPE_TIMEOUT_S) as answer:
                return outcome_counts(answer.read().decode())
        except (OSError, ValueError):
            return None

    def stop(self) -> int:
        """SIGTERM and wait for the drain; SIGKILL when it overruns or on a second Ctrl-C."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(SHUTDOWN_TIMEOUT_S + 10)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            return self._proc.wait()

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""
