"""The embedded stack behind ``consumer dev up|down|status``: real services on loopback, their
pids, ports and logs kept in a state folder so that ``up`` is idempotent and ``down`` stops
only what ``up`` started."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from . import services
from .constants import DEV_BROKER_PORT, DEV_REDIS_PORT, DEV_REGISTRY_PORT, ENV_HOME
from .errors import ServiceUnavailable

STATE_FILE = "stack.json"


def state_dir() -> Path:
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]) / "dev"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "consumer" / "dev"


@dataclass(frozen=True)
class Component:
    name: str
    preferred_port: int
    command: Callable[[int, Path], list[str]]
    address: Callable[[int], str]
    answers: Callable[[str], bool]
    start_timeout_s: float


COMPONENTS = (
    Component("broker", DEV_BROKER_PORT, lambda port, _: services.broker_command(port),
              lambda port: f"{services.LOOPBACK}:{port}", services.broker_answers, 30),
    Component("redis", DEV_REDIS_PORT, lambda port, home: services.redis_command(port, home),
              lambda port: f"redis://{services.LOOPBACK}:{port}/0", services.redis_answers, 15),
    Component("registry", DEV_REGISTRY_PORT,
              lambda port, home: services.registry_command(port, home / "registry.db"),
              lambda port: f"http://{services.LOOPBACK}:{port}", services.registry_answers, 20),
)
CONTRACT_KEYS = {"broker": "bootstrap", "redis": "redis", "registry": "registry"}


@dataclass
class Running:
    name: str
    pid: int
    port: int
    address: str
    log: str
    command: list[str]

    def alive(self) -> bool:
        # A recorded pid may have been reused by an unrelated process since: check its cmdline.
        return services.pid_alive(self.pid) and self.command[0] in services.pid_cmdline(self.pid)


class DevStack:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or state_dir()

    @property
    def _state_path(self) -> Path:
        return self.home / STATE_FILE

    def _load(self) -> dict[str, Running]:
        try:
            raw = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return {}
        return {name: Running(**entry) for name, entry in raw.items()}

    def _save(self, running: dict[str, Running]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({n: asdict(r) for n, r in running.items()}, indent=2))
        tmp.replace(self._state_path)

    def up(self) -> dict[str, Running]:
        """Starts what is not already running and waits until every component answers."""
        running = {n: r for n, r in self._load().items() if r.alive()}
        for comp in COMPONENTS:
            if comp.name in running:
                continue
            previous = self._load().get(comp.name)
            port = services.free_port(previous.port if previous else comp.preferred_port)
            cmd = comp.command(port, self.home)
            log = self.home / f"{comp.name}.log"
            proc = services.spawn(cmd, log, detach=True)
            address = comp.address(port)
            try:
                services.wait_until(lambda c=comp, a=address: c.answers(a),  # type: ignore[misc]
                                    comp.start_timeout_s, f"{comp.name} ({log})", proc)
            except ServiceUnavailable:
                services.stop_pid(proc.pid)
                self._save(running)
                raise
            running[comp.name] = Running(comp.name, proc.pid, port, address, str(log), cmd)
            self._save(running)
        return running

    def down(self) -> list[str]:
        stopped = []
        for name, entry in self._load().items():
            if entry.alive():
                services.stop_pid(entry.pid)
                stopped.append(name)
        self._state_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, dict[str, object]]:
        report: dict[str, dict[str, object]] = {}
        loaded = self._load()
        for comp in COMPONENTS:
            entry = loaded.get(comp.name)
            alive = bool(entry and entry.alive())
            answering = False
            if entry and alive:
                try:
                    answering = comp.answers(entry.address)
                except Exception:
                    answering = False
            report[comp.name] = {"running": alive, "answering": answering,
                                 "address": entry.address if entry else None,
                                 "pid": entry.pid if entry else None,
                                 "log": entry.log if entry else None}
        return report

    def addresses(self) -> dict[str, str]:
        """The contract's ``{"bootstrap", "registry", "redis"}`` of what is running."""
        return {CONTRACT_KEYS[n]: r.address for n, r in self._load().items() if r.alive()}
