"""The runtime's metrics (CONTRACT.md, "Metrics"), exported through the OpenTelemetry SDK in
Prometheus text format.

The hot path never touches the OpenTelemetry API: one ``Histogram.record()`` costs ~8 µs and one
``Counter.add()`` ~6 µs (bench/metrics_cost.py), against a budget of ~16 µs per Avro message.
Every method here takes a whole batch and only updates local numbers under a lock; the SDK
reads them when Prometheus scrapes: counters and gauges through observable instruments,
histograms as SDK histogram points handed to the Prometheus reader with each collection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, Histogram, Metric
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry

from . import constants as c
from .errors import ConfigError
from .histogram import LocalHistogram, ReaderWithHistograms

SCOPE = "consumer"  # the OpenTelemetry meter and resource name
Callback = Callable[[CallbackOptions], Iterable[Observation]]


@dataclass(frozen=True)
class MetricsSettings:
    """What every series of one consumer process is labelled with, and whether to export."""

    topic: str
    group: str
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.topic or not self.group:
            raise ConfigError("metrics need the topic and the group they describe")


class Metrics:
    """Metrics switched off (``--metrics-port 0``): every method returns at once. The runtime
    may also test ``enabled`` once to skip gathering what it would pass here."""

    enabled = False

    def messages(self, outcome: str, n: int) -> None:
        """``n`` messages reached ``outcome`` (one of ``constants.OUTCOMES``)."""

    def processing_seconds(self, seconds: Sequence[float]) -> None:
        """Handler durations of a batch of messages."""

    def end_to_end_seconds(self, seconds: Sequence[float]) -> None:
        """Now minus each message's Kafka timestamp, taken when the message is done."""

    def in_flight(self, n: int) -> None:
        """Messages handed to handlers and not yet done."""

    def paused_partitions(self, n: int) -> None:
        """Partitions paused for backpressure."""

    def lag(self, partition: int, messages: int, seconds: float | None) -> None:
        """Lag of one assigned partition (see ``consumer.lag``). ``seconds`` None (the probe
        could not read the oldest message in time) keeps the last known age: 0 would claim the
        partition is caught up."""

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drops the lag series of revoked partitions: another member reports them now."""

    def breaker_state(self, breaker: str, state: str) -> None:
        """``state`` is ``closed``, ``half-open`` or ``open``."""

    def breaker_found(self, breaker: str, state: str) -> None:
        """A breaker's state for the gauge, unless it already shows one: read outside the
        breaker's lock, it may be older than a transition reported meanwhile."""

    def dedup_checks(self, result: str, n: int) -> None:
        """``n`` dedup lookups answered ``result`` (one of ``constants.DEDUP_RESULTS``)."""

    def redis_roundtrips(self, n: int) -> None:
        """Commands sent to Redis (a pipeline counts as one)."""

    def data_errors(self, reason: str, n: int) -> None:
        """Messages rejected while decoding (``DataError.reason``)."""

    def null_fields(self, field_counts: Mapping[str, int], records: int) -> None:
        """Of ``records`` decoded records, how many held null in each nullable field (see
        ``consumer.null_counts``)."""


class PrometheusMetrics(Metrics):
    """Metrics on: ``registry`` is what ``/metrics`` renders."""

    enabled = True

    def __init__(self, settings: MetricsSettings, registry: CollectorRegistry | None = None):
        self.settings = settings
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._messages = dict.fromkeys(c.OUTCOMES, 0)
        self._dedup = dict.fromkeys(c.DEDUP_RESULTS, 0)
        self._data_errors = dict.fromkeys(c.DATA_ERROR_REASONS, 0)
        self._redis_roundtrips = 0
        self._null_values: dict[str, int] = {}
        self._null_checked_records = 0
        self._in_flight = 0
        self._paused = 0
        self._lag: dict[int, tuple[int, float]] = {}
        self._breakers: dict[str, int] = {}
        self._processing = LocalHistogram()
        self._end_to_end = LocalHistogram()
        self._started_ns = time.time_ns()
        self._reader = ReaderWithHistograms(self._histogram_metrics, self.registry)
        self._provider = MeterProvider(metric_readers=[self._reader],
                                       resource=Resource.create({"service.name": SCOPE}))
        self._register_instruments()

    # -- the runtime's calls --------------------------------------------------------------
    def messages(self, outcome: str, n: int) -> None:
        with self._lock:
            self._messages[outcome] += n

    def processing_seconds(self, seconds: Sequence[float]) -> None:
        self._processing.observe(seconds)

    def end_to_end_seconds(self, seconds: Sequence[float]) -> None:
        self._end_to_end.observe(seconds)

    def in_flight(self, n: int) -> None:
        self._in_flight = n

    def paused_partitions(self, n: int) -> None:
        self._paused = n

    def lag(self, partition: int, messages: int, seconds: float | None) -> None:
        with self._lock:
            if seconds is None:
                seconds = self._lag.get(partition, (0, 0.0))[1]
            self._lag[partition] = (messages, seconds)

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        with self._lock:
            for partition in partitions:
                self._lag.pop(partition, None)

    def breaker_state(self, breaker: str, state: str) -> None:
        value = c.BREAKER_STATE_VALUES[state]
        with self._lock:
            self._breakers[breaker] = value

    def breaker_found(self, breaker: str, state: str) -> None:
        value = c.BREAKER_STATE_VALUES[state]
        with self._lock:
            self._breakers.setdefault(breaker, value)

    def dedup_checks(self, result: str, n: int) -> None:
        with self._lock:
            self._dedup[result] += n

    def redis_roundtrips(self, n: int) -> None:
        with self._lock:
            self._redis_roundtrips += n

    def data_errors(self, reason: str, n: int) -> None:
        with self._lock:
            self._data_errors[reason] += n

    def null_fields(self, field_counts: Mapping[str, int], records: int) -> None:
        with self._lock:
            self._null_checked_records += records
            for field, count in field_counts.items():
                self._null_values[field] = self._null_values.get(field, 0) + count

    def close(self) -> None:
        self._provider.shutdown()

    # -- what the SDK reads at each scrape ------------------------------------------------
    def _register_instruments(self) -> None:
        meter = self._provider.get_meter(SCOPE)
        topic = {"topic": self.settings.topic}
        group = self.settings.group

        def labelled(key: str, values: dict[str, int], base: dict[str, str]) -> Callback:
            return lambda _options: [Observation(n, {**base, key: label})
                                     for label, n in self._snapshot(values).items()]

        def lag(index: int) -> Callback:
            def observe(_options: CallbackOptions) -> list[Observation]:
                with self._lock:
                    current = sorted(self._lag.items())
                return [Observation(pair[index], {"group": group, "topic": topic["topic"],
                                                  "partition": str(partition)})
                        for partition, pair in current]
            return observe

        def one(read: Callable[[], float], labels: dict[str, str]) -> Callback:
            return lambda _options: [Observation(read(), labels)]

        counters: list[tuple[str, str, Callback]] = [
            (c.METRIC_MESSAGES, "Messages by how their processing ended.",
             labelled("outcome", self._messages, topic)),
            (c.METRIC_DEDUP_CHECKS, "Dedup lookups by what answered them.",
             labelled("result", self._dedup, {})),
            (c.METRIC_REDIS_ROUNDTRIPS, "Commands or pipelines sent to Redis.",
             one(lambda: self._redis_roundtrips, {})),
            (c.METRIC_DATA_ERRORS, "Messages rejected before the handler, by reason.",
             labelled("reason", self._data_errors, topic)),
            (c.METRIC_NULL_VALUES, "Null values seen in each nullable reader-schema field.",
             labelled("field", self._null_values, topic)),
            (c.METRIC_NULL_CHECKED_RECORDS, "Records whose nullable fields were counted.",
             one(lambda: self._null_checked_records, topic)),
        ]
        for name, description, callback in counters:
            meter.create_observable_counter(name, [callback], description=description)
        gauges: list[tuple[str, str, str, Callback]] = [
            (c.METRIC_LAG_MESSAGES, "", "High watermark minus committed offset.",
             lag(0)),
            (c.METRIC_LAG_SECONDS, "s", "Age of the oldest message not yet done; 0 caught up.",
             lag(1)),
            (c.METRIC_IN_FLIGHT, "", "Messages handed to handlers and not yet done.",
             one(lambda: self._in_flight, topic)),
            (c.METRIC_PAUSED_PARTITIONS, "", "Partitions paused for backpressure.",
             one(lambda: self._paused, topic)),
            (c.METRIC_BREAKER_STATE, "", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
             labelled("breaker", self._breakers, {})),
        ]
        for name, unit, description, callback in gauges:
            meter.create_observable_gauge(name, [callback], unit=unit, description=description)

    def _snapshot(self, values: dict[str, int]) -> dict[str, int]:
        with self._lock:
            return dict(values)

    def _histogram_metrics(self) -> list[Metric]:
        now_ns = time.time_ns()
        attributes = {"topic": self.settings.topic}
        return [Metric(name=name, description=description, unit="s",
                       data=Histogram([histogram.data_point(attributes, self._started_ns, now_ns)],
                                      AggregationTemporality.CUMULATIVE))
                for name, description, histogram in (
                    (c.METRIC_PROCESSING_SECONDS, "Handler time per message.", self._processing),
                    (c.METRIC_END_TO_END_SECONDS, "Kafka timestamp to done, per message.",
                     self._end_to_end))]


def create_metrics(settings: MetricsSettings) -> Metrics:
    return PrometheusMetrics(settings) if settings.enabled else Metrics()
