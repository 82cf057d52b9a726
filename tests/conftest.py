"""Real services for the tests: Tansu, redis-server and our registry on free loopback ports,
started once per session, or the outside services named by KAFKA_BOOTSTRAP, REDIS_URL and
REGISTRY_URL."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer import services


def _start(cmd: list[str], log: Path, ready, what: str) -> subprocess.Popen[bytes]:
    proc = services.spawn(cmd, log)
    try:
        services.wait_until(ready, 30, what, proc)
    except Exception:
        proc.kill()
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def bootstrap(service_logs: Path) -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    port = services.free_port()
    address = f"{services.LOOPBACK}:{port}"
    proc = _start(services.broker_command(port), service_logs / "broker.log",
                  lambda: services.broker_answers(address), "tansu")
    yield address
    _stop(proc)


@pytest.fixture(scope="session")
def redis_url(service_logs: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    port = services.free_port()
    url = f"redis://{services.LOOPBACK}:{port}/0"
    proc = _start(services.redis_command(port, service_logs), service_logs / "redis.log",
                  lambda: services.redis_answers(url), "redis-server")
    yield url
    _stop(proc)


@pytest.fixture(scope="session")
def registry_url(service_logs: Path) -> Iterator[str]:
    if os.environ.get("REGISTRY_URL"):
        yield os.environ["REGISTRY_URL"]
        return
    port = services.free_port()
    url = f"http://{services.LOOPBACK}:{port}"
    proc = _start(services.registry_command(port, service_logs / "registry.db"),
                  service_logs / "registry.log", lambda: services.registry_answers(url),
                  "schema registry")
    yield url
    _stop(proc)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and subject names of one test."""
    return uuid.uuid4().hex[:10]
