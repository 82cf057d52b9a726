from __future__ import annotations

import httpx
import pytest

from consumer.errors import ConfigError
from consumer.http_server import Health, MetricsServer, Status
from consumer.metrics import MetricsSettings, PrometheusMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_liveness_fails_once_heartbeats_stop_for_the_stall_time():
    clock = Clock()
    health = Health(stall_after_s=30, clock=clock)
    clock.now += 29
    assert health.liveness().ok
    health.heartbeat()
    clock.now += 30
    assert health.liveness().ok
    clock.now += 1.5
    status = health.liveness()
    assert not status.ok
    assert "31.5s" in status.detail and "30s" in status.detail
    health.heartbeat()
    assert health.liveness().ok


def test_a_process_that_never_beats_is_stalled_after_the_stall_time():
    clock = Clock()
    health = Health(stall_after_s=5, clock=clock)
    clock.now += 6
    assert not health.liveness().ok


def test_readiness_follows_the_assignment():
    health = Health()
    assert not health.readiness().ok
    assert "joined" in health.readiness().detail
    health.ready(True)
    assert health.readiness().ok
    health.ready(False, "shutting down")
    assert health.readiness() == Status(False, "shutting down")


def test_stall_time_must_be_positive():
    with pytest.raises(ConfigError):
        Health(stall_after_s=0)


@pytest.fixture
def served():
    clock = Clock()
    metrics = PrometheusMetrics(MetricsSettings("orders", "billing"))
    health = Health(stall_after_s=10, clock=clock)
    with MetricsServer(metrics.registry, health, host="127.0.0.1", port=0) as server:
        yield f"http://127.0.0.1:{server.port}", metrics, health, clock
    metrics.close()


def test_metrics_endpoint_serves_prometheus_text(served):
    url, metrics, _, _ = served
    metrics.messages("processed", 7)
    answer = httpx.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'consumer_messages_total{outcome="processed",topic="orders"} 7.0' in answer.text


def test_metrics_endpoint_speaks_openmetrics_when_asked(served):
    url, _, _, _ = served
    answer = httpx.get(f"{url}/metrics", headers={"Accept": "application/openmetrics-text"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_health_endpoints_turn_503_with_a_reason_and_back(served):
    url, _, health, clock = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503 and "joined" in ready.text
    health.ready(True)
    assert httpx.get(f"{url}/readyz").status_code == 200
    clock.now += 11
    stalled = httpx.get(f"{url}/healthz")
    assert stalled.status_code == 503 and stalled.text.startswith("stalled")
    health.heartbeat()
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_taken_port_is_a_config_error(served):
    url, metrics, health, _ = served
    taken = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=str(taken)):
        MetricsServer(metrics.registry, health, host="127.0.0.1", port=taken).start()


def test_unknown_paths_are_404(served):
    url, _, _, _ = served
    assert httpx.get(f"{url}/nope").status_code == 404
