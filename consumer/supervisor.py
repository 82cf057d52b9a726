"""``consumer run --processes N``: a supervisor process and N members of one consumer group.

Each member is a plain ``consumer run`` with the supervisor's own flags and ``--processes 1``
(the environment and the ``--config`` file reach it unchanged, so its settings are the same).
The supervisor restarts a member that dies, after a backoff that doubles while the member
keeps dying young, so a crash loop is slowed down, never a hot loop; it forwards the first
SIGTERM/SIGINT to the members, which drain and commit, and kills them on a second one; and it
serves the group's one metrics port: each member serves its own on a loopback port that it
announces in the file named by ``CONSUMER_MEMBER_METRICS_FILE``, and ``MemberGroup`` merges
them, ``/healthz`` and ``/readyz`` included.

Members get a process group of their own, so a terminal's Ctrl-C reaches only the supervisor,
which forwards it once: a member receiving two signals would stop without committing. On Linux
a member is sent SIGTERM when the supervisor dies, so none outlives it unsupervised.

Its exit status after a stop is 0 when every member stopped cleanly (one that the stop's
SIGTERM killed while it was still starting up had taken nothing, and counts as clean), 1
otherwise, and 128 + the signal when a second signal killed the members.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from . import constants as c
from .config import Settings
from .errors import ConfigError
from .http_server import MetricsServer
from .kafka import admin, partition_count
from .member_metrics import MemberGroup
from .member_process import (
    MEMBER_HOST,
    announced_port,
    check_handler,
    death_signal,
    describe_exit,
    member_arguments,
    member_cpus,
)

log = logging.getLogger(__name__)

TICK_S = 0.1
SHUTDOWN_GRACE_S = 10.0   # after --shutdown-timeout: closing the consumer, its final commit
REFUSED_TO_START = 2      # bad usage or configuration (CONTRACT.md): a restart cannot help


@dataclass(frozen=True)
class RestartPolicy:
    """Restart delays: ``initial_backoff_s`` doubled for each death in a row that came less
    than ``stable_after_s`` after its start, up to ``max_backoff_s``."""

    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    stable_after_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_backoff_s <= self.max_backoff_s or self.stable_after_s <= 0:
            raise ConfigError(f"restart policy: need 0 < initial <= max backoff and a positive "
                              f"stable time, got {self}")

    def delay_s(self, young_deaths: int) -> float:
        return min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** min(young_deaths, 32))


@dataclass
class Member:
    index: int
    port_file: Path
    cpu: int | None = None   # where its Python threads run; None: wherever the kernel puts them
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0
    young_deaths: int = 0
    restart_at: float | None = None
    registered: bool = False
    finished: bool = False   # exited 0 on its own (a bounded backfill that reached its end)

    @property
    def name(self) -> str:
        return f"member-{self.index}"


class Supervisor:
    def __init__(self, command: list[str], processes: int, *, metrics_port: int,
                 shutdown_timeout_s: float, policy: RestartPolicy | None = None,
                 metrics_host: str = "0.0.0.0") -> None:
        self._command = command
        self._policy = policy or RestartPolicy()
        self._shutdown_timeout_s = shutdown_timeout_s
        self._workdir = Path(tempfile.mkdtemp(prefix="consumer-members-"))
        self.members = [Member(i, self._workdir / f"member-{i}.port", cpu=cpu)
                        for i, cpu in enumerate(member_cpus(processes))]
        self.restarts = 0
        self._group: MemberGroup | None = None
        self._server: MetricsServer | None = None
        if metrics_port:
            self._group = MemberGroup(expected_members=processes)
            self._group.registry.register(_SupervisorCollector(self))
            self._server = MetricsServer(self._group.registry, self._group,
                                         host=metrics_host, port=metrics_port)
        self._signals: list[int] = []
        self._stop_deadline: float | None = None
        self._stop_statuses: list[int] = []
        self._killed_by: int | None = None
        self._refused = False
        self._pre_exec = death_signal()

    @property
    def metrics_port(self) -> int | None:
        return self._server.port if self._server is not None else None

    def run(self) -> int:
        previous = self._install_signals()
        try:
            if self._server is not None:
                self._server.start()  # a taken port fails here, before any member starts
            for member in self.members:
                self._start(member)
            while not self._done():
                self._tend()
                time.sleep(TICK_S)
            status = self._exit_status()
            log.info("all members stopped: exit status %d", status)
            return status
        finally:
            self._signal_members(signal.SIGKILL)  # only left running if the loop raised
            if self._server is not None:
                self._server.stop()
            if self._group is not None:
                self._group.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- the loop -------------------------------------------------------------------------
    def _tend(self) -> None:
        if self._signals and self._stop_deadline is None:
            self._stop(f"{signal.Signals(self._signals[0]).name} received")
        if len(self._signals) > 1 and self._killed_by is None:
            self._killed_by = self._signals[1]
            log.warning("second signal: killing the members; unfinished work is not committed")
            self._signal_members(signal.SIGKILL)
        now = time.monotonic()
        for member in self.members:
            if member.proc is not None:
                status = member.proc.poll()
                if status is None:
                    self._register(member)
                else:
                    self._reaped(member, status, now)
            elif member.restart_at is not None and now >= member.restart_at:
                self._start(member)
        if self._stop_deadline is not None and now > self._stop_deadline:
            late = [m.name for m in self.members if m.proc is not None]
            if late:
                log.warning("%s still running %.0fs after the stop: killing them",
                            ", ".join(late), self._shutdown_timeout_s + SHUTDOWN_GRACE_S)
                self._signal_members(signal.SIGKILL)

    def _start(self, member: Member) -> None:
        with contextlib.suppress(FileNotFoundError):
            member.port_file.unlink()
        env = dict(os.environ)
        if self._group is not None:
            env[c.ENV_MEMBER_METRICS_FILE] = str(member.port_file)
        env.pop(c.ENV_MEMBER_CPU, None)   # a member's own, never passed down from outside
        if member.cpu is not None:
            env[c.ENV_MEMBER_CPU] = str(member.cpu)
        member.proc = subprocess.Popen(self._command, env=env, stdin=subprocess.DEVNULL,
                                       process_group=0, preexec_fn=self._pre_exec)
        member.started_at = time.monotonic()
        member.starts += 1
        member.restart_at = None
        if member.starts > 1:
            self.restarts += 1
        log.info("%s started (pid %d)", member.name, member.proc.pid,
                 extra={"member": member.name, "pid": member.proc.pid, "start": member.starts})

    def _reaped(self, member: Member, status: int, now: float) -> None:
        assert member.proc is not None
        pid, ran_s = member.proc.pid, now - member.started_at
        member.proc = None
        self._unregister(member)
        what = f"{member.name} (pid {pid}) {describe_exit(status)} after {ran_s:.1f}s"
        fields = {"member": member.name, "pid": pid, "status": status}
        if self._stop_deadline is not None:
            if status == -signal.SIGTERM:
                # Our SIGTERM killed it: a member catches it once its runtime is about to
                # subscribe, so this one was still starting up and had taken nothing.
                what += " while starting up, before it subscribed"
                status = 0
            self._stop_statuses.append(status)
            (log.info if status == 0 else log.warning)(what, extra=fields)
        elif status == 0:
            member.finished = True
            log.info("%s: finished", what, extra=fields)
        elif status == REFUSED_TO_START and member.starts == 1:
            self._refused = True
            log.error("%s: it refused its settings, so every member would", what, extra=fields)
            self._stop("a member refused to start")
        else:
            if ran_s >= self._policy.stable_after_s:
                member.young_deaths = 0
            delay_s = self._policy.delay_s(member.young_deaths)
            member.young_deaths += 1
            member.restart_at = now + delay_s
            log.warning("%s; restarting it in %.1fs", what, delay_s,
                        extra={**fields, "restart_in_s": delay_s})

    def _stop(self, reason: str) -> None:
        self._stop_deadline = time.monotonic() + self._shutdown_timeout_s + SHUTDOWN_GRACE_S
        for member in self.members:
            member.restart_at = None
        running = [m for m in self.members if m.proc is not None]
        log.info("%s: stopping %d members (each drains for up to %.0fs)", reason,
                 len(running), self._shutdown_timeout_s)
        self._signal_members(signal.SIGTERM)

    def _done(self) -> bool:
        if any(m.proc is not None or m.restart_at is not None for m in self.members):
            return False
        return self._stop_deadline is not None or all(m.finished for m in self.members)

    def _exit_status(self) -> int:
        if self._killed_by is not None:
            return 128 + self._killed_by
        if self._refused:
            return REFUSED_TO_START
        return 0 if all(status == 0 for status in self._stop_statuses) else 1

    # -- members' metrics -----------------------------------------------------------------
    def _register(self, member: Member) -> None:
        if self._group is None or member.registered:
            return
        port = announced_port(member.port_file)
        if port is not None:
            self._group.add(member.name, f"http://{MEMBER_HOST}:{port}")
            member.registered = True

    def _unregister(self, member: Member) -> None:
        if self._group is not None and member.registered:
            self._group.remove(member.name)
        member.registered = False

    # -- signals --------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)  # acted on by the loop, within one tick

        return {signum: signal.signal(signum, on_signal)
                for signum in (signal.SIGTERM, signal.SIGINT)}

    def _signal_members(self, signum: signal.Signals) -> None:
        for member in self.members:
            if member.proc is not None and member.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    member.proc.send_signal(signum)


class _SupervisorCollector:
    """The supervisor's own series beside the members' merged ones."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        members = self._supervisor.members
        yield CounterMetricFamily(c.METRIC_MEMBER_RESTARTS,
                                  "Member processes restarted after they died.",
                                  value=self._supervisor.restarts)
        yield GaugeMetricFamily(c.METRIC_MEMBERS_RUNNING, "Member processes running.",
                                value=sum(m.proc is not None for m in members))


def supervise(settings: Settings, args: argparse.Namespace) -> int:
    """``consumer run`` with ``--processes`` above 1."""
    partitions = partition_count(admin(settings.bootstrap, settings.kafka), settings.topic)
    if partitions is None:
        raise ConfigError(f"topic {settings.topic!r} does not exist on {settings.bootstrap}")
    if settings.processes > partitions:
        log.warning("%d members for the %d partitions of %s: %d will have nothing assigned",
                    settings.processes, partitions, settings.topic,
                    settings.processes - partitions)
    check_handler(settings.handler)
    command = [sys.executable, "-m", "consumer", "run", *member_arguments(args)]
    return Supervisor(command, settings.processes, metrics_port=settings.metrics_port,
                      shutdown_timeout_s=settings.shutdown_timeout_s).run()

