from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumer import lag as lag_module
from consumer.errors import ServiceUnavailable
from consumer.lag import LagProbe, LagReporter, PartitionLag, lag_seconds
from consumer.metrics import MetricsSettings, PrometheusMetrics


class FakeMessage:
    def __init__(self, partition: int, offset: int, timestamp_ms: int = 0,
                 error: int | None = None) -> None:
        self._partition, self._offset, self._ts, self._error = partition, offset, timestamp_ms, error

    def topic(self) -> str:
        return "orders"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)

    def error(self) -> KafkaError | None:
        return None if self._error is None else KafkaError(self._error)


class FakeConsumer:
    """Answers with canned fetches; ``cached`` is what fetch responses told, ``listed`` what
    ListOffsets would say (wrong, as on Tansu after multi-record batches)."""

    def __init__(self, config: dict) -> None:
        self.messages: list[FakeMessage] = []
        self.cached: dict[int, tuple[int, int]] = {}
        self.listed: dict[int, tuple[int, int]] = {}
        self.assigned: list = []

    def assign(self, partitions: list) -> None:
        self.assigned = partitions

    def unassign(self) -> None:
        self.assigned = []

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        batch, self.messages = self.messages, []
        if not batch:
            time.sleep(timeout / 10)
        return batch

    def get_watermark_offsets(self, tp, timeout: float | None = None, cached: bool = False):
        return self.cached.get(tp.partition, (-1001, -1001)) if cached else self.listed[tp.partition]

    def close(self) -> None:
        pass


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setattr(lag_module, "Consumer", FakeConsumer)
    made = LagProbe("unused:9092", timeout_s=0.2)
    return made, made._consumer


def test_lag_comes_from_the_fetch_not_from_list_offsets(probe):
    lag_probe, fake = probe
    now_ms = int(time.time() * 1000)
    fake.messages = [FakeMessage(0, 3, now_ms - 120_000), FakeMessage(0, 4, now_ms)]
    fake.cached = {0: (0, 10)}
    fake.listed = {0: (0, 1)}
    [lag] = lag_probe.measure({("orders", 0): 3})
    assert (lag.committed, lag.high_watermark, lag.lag_messages) == (3, 10, 7)
    assert lag.lag_seconds == pytest.approx(120, abs=5)


def test_a_caught_up_partition_lags_zero_seconds(probe):
    lag_probe, fake = probe
    fake.messages = [FakeMessage(1, 10, error=KafkaError._PARTITION_EOF)]
    fake.cached = {1: (0, 10)}
    [lag] = lag_probe.measure({("orders", 1): 10})
    assert lag == PartitionLag("orders", 1, 10, 10, 0, 0.0)


def test_without_a_commit_the_lag_counts_from_the_first_message(probe):
    lag_probe, fake = probe
    fake.messages = [FakeMessage(2, 4, int(time.time() * 1000))]
    fake.cached = {2: (4, 9)}
    [lag] = lag_probe.measure({("orders", 2): None})
    assert (lag.committed, lag.lag_messages) == (None, 5)
    assert fake.assigned == []  # released after measuring


def test_the_probe_reads_from_the_log_start_where_nothing_was_committed(probe):
    lag_probe, fake = probe
    seen = []
    fake.assign = seen.extend
    fake.cached = {0: (0, 0), 1: (0, 0)}
    lag_probe.measure({("orders", 0): None, ("orders", 1): 7})
    assert [(tp.partition, tp.offset) for tp in seen] == [(0, OFFSET_BEGINNING), (1, 7)]


def test_when_nothing_can_be_fetched_list_offsets_is_the_fallback_and_the_age_unknown(probe):
    lag_probe, fake = probe
    fake.listed = {0: (0, 12)}
    [lag] = lag_probe.measure({("orders", 0): 2})
    assert (lag.high_watermark, lag.lag_messages, lag.lag_seconds) == (12, 10, None)


def test_all_brokers_down_is_service_unavailable(probe):
    lag_probe, fake = probe
    fake.messages = [FakeMessage(0, -1, error=KafkaError._ALL_BROKERS_DOWN)]
    with pytest.raises(ServiceUnavailable):
        lag_probe.measure({("orders", 0): 2})


def test_a_message_stamped_in_the_future_reads_as_no_age():
    assert lag_seconds(int(time.time() * 1000) + 60_000, time.time()) == 0.0
    assert lag_seconds(1_000, 31.0) == 30.0


class CannedProbe:
    def __init__(self) -> None:
        self.asked: list[dict] = []

    def measure(self, committed):
        self.asked.append(dict(committed))
        if not committed:
            return []
        return [PartitionLag(topic, partition, offset, 100, 100 - (offset or 0), 1.5)
                for (topic, partition), offset in committed.items()]


def lag_series(metrics) -> dict[str, float]:
    return {sample.labels["partition"]: sample.value
            for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
            for sample in family.samples if sample.name == "consumer_lag_messages"}


def test_the_reporter_sets_assigned_partitions_and_drops_revoked_ones():
    metrics = PrometheusMetrics(MetricsSettings("orders", "billing"))
    assignment = {0: 40, 1: None}
    reporter = LagReporter(CannedProbe(), metrics, "orders", lambda: assignment)
    reporter.refresh()
    assert lag_series(metrics) == {"0": 60, "1": 100}
    assignment = {1: 90}
    reporter.refresh()
    assert lag_series(metrics) == {"1": 10}
    metrics.close()


def test_the_reporter_thread_refreshes_at_once_and_keeps_going_after_a_broker_error():
    class FlakyProbe(CannedProbe):
        def measure(self, committed):
            if len(self.asked) == 1:
                self.asked.append({})
                raise ServiceUnavailable("the broker does not answer")
            return super().measure(committed)

    metrics = PrometheusMetrics(MetricsSettings("orders", "billing"))
    probe = FlakyProbe()
    reporter = LagReporter(probe, metrics, "orders", lambda: {0: 99}, interval_s=0.01)
    reporter.start()
    deadline = time.monotonic() + 10
    while len(probe.asked) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    reporter.stop()
    assert len(probe.asked) >= 3
    assert lag_series(metrics) == {"0": 1}
    metrics.close()
