"""The metrics port: ``/metrics`` (Prometheus text), ``/healthz`` (liveness: the poll loop is
turning) and ``/readyz`` (readiness: the member holds its assignment), on one daemon thread.

The same server fronts one consumer process (``Health`` + its metrics registry) or the parent
of ``consumer run --processes N`` (``consumer.member_metrics.MemberGroup``, which merges what
its children's own servers answer)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from .errors import ConfigError

DEFAULT_STALL_AFTER_S = 30.0


@dataclass(frozen=True)
class Status:
    ok: bool
    detail: str


class HealthSource(Protocol):
    def liveness(self) -> Status: ...

    def readiness(self) -> Status: ...


class Health:
    """Liveness and readiness of one consumer process, fed by its poll loop: ``heartbeat()``
    each iteration (one attribute store), ``ready(True)`` once the group assignment is held
    (an empty one counts), ``ready(False)`` when it is lost or the process is shutting down."""

    def __init__(self, stall_after_s: float = DEFAULT_STALL_AFTER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if stall_after_s <= 0:
            raise ConfigError(f"stall_after_s must be positive, got {stall_after_s}")
        self.stall_after_s = stall_after_s
        self._clock = clock
        # Counted from start-up: a process that never reaches its poll loop is stalled too.
        self._last_beat = clock()
        self._ready = False
        self._not_ready_because = "not yet joined the consumer group"

    def heartbeat(self) -> None:
        self._last_beat = self._clock()

    def ready(self, is_ready: bool, reason: str = "assignment lost") -> None:
        self._ready = is_ready
        if not is_ready:
            self._not_ready_because = reason

    def liveness(self) -> Status:
        silent_s = self._clock() - self._last_beat
        if silent_s > self.stall_after_s:
            return Status(False, f"stalled: no poll loop heartbeat for {silent_s:.1f}s "
                                 f"(limit {self.stall_after_s:g}s)")
        return Status(True, "ok")

    def readiness(self) -> Status:
        return Status(True, "ok") if self._ready else Status(False, self._not_ready_because)


class MetricsServer:
    """``start()`` binds (port 0 = any free port) and returns the port; ``stop()`` closes it."""

    def __init__(self, registry: CollectorRegistry, health: HealthSource,
                 host: str = "0.0.0.0", port: int = 9464) -> None:
        self.registry = registry
        self.health = health
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        try:
            server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        except OSError as exc:
            raise ConfigError(f"metrics port {self.host}:{self.port}: {exc.strerror}") from None
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, name="metrics-http",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._answer(200, encode(server.registry), content_type)
            elif path in ("/healthz", "/readyz"):
                status = (server.health.liveness() if path == "/healthz"
                          else server.health.readiness())
                self._answer(200 if status.ok else 503, (status.detail + "\n").encode(),
                             "text/plain; charset=utf-8")
            else:
                self._answer(404, b"not found: try /metrics, /healthz or /readyz\n",
                             "text/plain; charset=utf-8")

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes and probes every few seconds would drown the consumer's own logs."""

    return Handler
