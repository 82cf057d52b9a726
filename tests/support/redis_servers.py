"""Redis servers of a test's own, started with ``consumer.services``: a standalone one the test
may stop and restart (the session's ``redis_url`` must stay up for the others), and a 3-node
Redis Cluster on loopback."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consumer import services


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None, *extra: str) -> None:
        self.workdir = workdir
        self.port = port or services.free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{services.LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = services.spawn(services.redis_command(self.port, self.workdir, *self.extra),
                                   self.workdir / "redis.log")
        services.wait_until(lambda: services.port_answers(self.port), 20,
                            f"redis-server on {self.port}", self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; both must stay below 65536."""
    while True:
        port = random.randint(20000, 50000)
        if services.port_is_free(port) and services.port_is_free(port + 10000):
            return port


@contextmanager
def redis_cluster(workdir: Path, nodes: int = 3) -> Iterator[list[RedisServer]]:
    """``nodes`` masters, no replicas, every slot covered; yields once the cluster is ok."""
    servers = []
    try:
        for index in range(nodes):
            node_dir = workdir / f"node{index}"
            server = RedisServer(node_dir, cluster_port(), "--cluster-enabled", "yes",
                                 "--cluster-config-file", str(node_dir / "nodes.conf"),
                                 "--cluster-node-timeout", "5000")
            server.start()
            servers.append(server)
        addresses = [f"{services.LOOPBACK}:{s.port}" for s in servers]
        subprocess.run([services.redis_binary("redis-cli"), "--cluster", "create", *addresses,
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)

        def cluster_ok() -> bool:
            return all(b"cluster_state:ok" in subprocess.run(
                [services.redis_binary("redis-cli"), "-p", str(s.port), "cluster", "info"],
                capture_output=True, timeout=5).stdout for s in servers)

        services.wait_until(cluster_ok, 30, "redis cluster")
        yield servers
    finally:
        for server in servers:
            server.stop()
