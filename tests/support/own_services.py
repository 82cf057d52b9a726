"""Services of a test's own, started with ``consumer.services``, for scenarios that freeze or
stop them (the session's services must stay up for the other tests): a Tansu broker that can be
frozen with SIGSTOP (Tansu keeps its data in memory, so it is never restarted), and a schema
registry that can be stopped and started again on the same port and data file."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consumer import services


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class FreezableBroker:
    def __init__(self, workdir: Path) -> None:
        self.port = services.free_port()
        self.bootstrap = f"{services.LOOPBACK}:{self.port}"
        self.proc = services.spawn(services.broker_command(self.port), workdir / "broker.log")
        services.wait_until(lambda: services.broker_answers(self.bootstrap), 30, "tansu",
                            self.proc)
        self.frozen = False

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self) -> None:
        if self.frozen:
            self.thaw()
        _stop(self.proc)


@contextmanager
def freezable_broker(workdir: Path) -> Iterator[FreezableBroker]:
    broker = FreezableBroker(workdir)
    try:
        yield broker
    finally:
        broker.stop()


class RestartableRegistry:
    def __init__(self, workdir: Path) -> None:
        self.port = services.free_port()
        self.url = f"http://{services.LOOPBACK}:{self.port}"
        self._data = workdir / "registry.db"
        self._log = workdir / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = services.spawn(services.registry_command(self.port, self._data), self._log)
        services.wait_until(lambda: services.registry_answers(self.url), 20, "registry",
                            self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@contextmanager
def restartable_registry(workdir: Path) -> Iterator[RestartableRegistry]:
    registry = RestartableRegistry(workdir)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
