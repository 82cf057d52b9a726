"""Beside the pipeline: metrics, health and lag for one consumer process. The stages only keep
counts and lists; this stage turns them into metrics a few times a second, so the per-message
cost of observability stays a list append."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Any

from .breaker import BREAKERS
from .circuit import BreakerState
from .config import read_reader_schema
from .constants import OUTCOMES
from .http_server import Health, MetricsServer
from .lag import LagProbe, LagReporter
from .member_process import MEMBER_HOST, announce_port, member_port_file
from .metrics import MetricsSettings, create_metrics
from .null_counts import count_nulls, nullable_fields

log = logging.getLogger(__name__)

PUBLISH_EVERY_S = 0.25
# Until the group coordinator first assigns this member, a warning after this long and then
# at this interval: a member that waits in silence looks hung (Tansu, the embedded broker,
# admits a member after about session.timeout.ms/2: 23 s with librdkafka's default).
JOIN_WARN_AFTER_S = 10.0
JOIN_WARN_EVERY_S = 30.0


class Observer:
    def __init__(self, runtime: Any) -> None:
        settings = runtime.settings
        self._rt = runtime
        self.metrics = create_metrics(MetricsSettings(settings.topic, settings.group,
                                                      enabled=settings.metrics_port != 0))
        runtime.completion.latency_sample = [] if self.metrics.enabled else None
        runtime.executor.durations = [] if self.metrics.enabled else None
        self.health = Health()
        self._server: MetricsServer | None = None
        self._port_file: str | None = None
        self._lag: LagReporter | None = None
        self._published: Counter[str] = Counter()
        self._data_errors: Counter[str] = Counter()
        self._dedup: dict[str, int] = {}
        self._next_publish = 0.0
        # inf once first assigned: no more warnings
        self._join_started = self._next_join_warning = 0.0
        reader = read_reader_schema(settings.reader_schema) \
            if settings.value_format == "avro" else None
        self._nullable = nullable_fields(reader) if reader else ()
        if self.metrics.enabled:
            BREAKERS.add_listener(self._breaker_changed)
            # A member of `consumer run --processes N` serves on a loopback port of its own and
            # announces it to its supervisor, which serves --metrics-port for the group.
            self._port_file = member_port_file()
            host, port = (MEMBER_HOST, 0) if self._port_file else ("0.0.0.0", settings.metrics_port)
            self._server = MetricsServer(self.metrics.registry, self.health,  # type: ignore[attr-defined]
                                         host=host, port=port)
            self._lag = LagReporter(LagProbe(settings.bootstrap, settings.kafka), self.metrics,
                                    settings.topic, runtime.positions)

    def start(self) -> None:
        """Called right after subscribing."""
        self._join_started = time.monotonic()
        self._next_join_warning = self._join_started + JOIN_WARN_AFTER_S
        settings = self._rt.settings
        log.info("joining group %s on %s for %s", settings.group, settings.bootstrap,
                 settings.topic)
        if self._server is not None:
            port = self._server.start()
            if self._port_file:
                announce_port(self._port_file, port)
        if self._lag is not None:
            self._lag.start()

    def turn(self) -> None:
        """Once per poll-loop turn."""
        self.health.heartbeat()
        now = time.monotonic()
        if now >= self._next_join_warning:
            self._next_join_warning = now + JOIN_WARN_EVERY_S
            log.warning("still waiting to join group %s (%.0fs): the broker decides when; "
                        "the embedded one takes about session.timeout.ms/2, shortened by "
                        "-X session.timeout.ms=6000", self._rt.settings.group,
                        now - self._join_started)
        if now >= self._next_publish:
            self._next_publish = now + PUBLISH_EVERY_S
            self.publish()

    def publish(self) -> None:
        rt, metrics = self._rt, self.metrics
        completion = rt.completion
        if not metrics.enabled:
            return
        for outcome, total in completion.counts.items():
            if outcome in OUTCOMES and total != self._published[outcome]:
                metrics.messages(outcome, total - self._published[outcome])
                self._published[outcome] = total
        for reason, total in completion.data_error_reasons.items():
            if total != self._data_errors[reason]:
                metrics.data_errors(reason, total - self._data_errors[reason])
                self._data_errors[reason] = total
        durations = rt.executor.durations
        if durations:
            taken = len(durations)
            metrics.processing_seconds(durations[:taken])
            del durations[:taken]  # workers append concurrently: keep what came after
        sample = completion.latency_sample
        if sample:
            completion.latency_sample = []
            now_ms = time.time() * 1000.0
            metrics.end_to_end_seconds([(now_ms - ts) / 1000.0 for ts in sample])
        metrics.in_flight(rt.buffered)
        metrics.paused_partitions(rt.flow.paused_partitions)
        counters = dict(rt.duplicates.counters) if rt.duplicates is not None else {}
        if rt.recovery is not None:
            counters["redis_roundtrips"] = counters.get("redis_roundtrips", 0) + \
                rt.recovery.roundtrips
        self._publish_redis(counters)
        # Breakers show from their first use, not from their first transition.
        for name, state in BREAKERS.states().items():
            metrics.breaker_found(name, state.label)

    def decoded(self, messages: list[Any]) -> None:
        """Data quality, as records are taken in: how often each nullable field is null."""
        if self._nullable and messages:
            records = [m.value for m in messages if isinstance(m.value, dict)]
            self.metrics.null_fields(count_nulls(records, self._nullable), len(records))

    def _publish_redis(self, counters: dict[str, int]) -> None:
        for name, total in counters.items():
            delta = total - self._dedup.get(name, 0)
            if delta:
                if name == "redis_roundtrips":
                    self.metrics.redis_roundtrips(delta)
                else:
                    self.metrics.dedup_checks(name, delta)
                self._dedup[name] = total

    def _breaker_changed(self, name: str, old: BreakerState, new: BreakerState) -> None:
        self.metrics.breaker_state(name, new.label)

    def ready(self, is_ready: bool, reason: str = "assignment lost") -> None:
        if is_ready:
            self._next_join_warning = math.inf
        self.health.ready(is_ready, reason)

    def close(self) -> None:
        self.publish()
        BREAKERS.remove_listener(self._breaker_changed)
        if self._lag is not None:
            self._lag.stop()
        if self._server is not None:
            self._server.stop()
