"""Consumer lag per partition, in messages and in seconds, read from the broker.

``lag_messages`` is the high watermark minus the committed offset. ``lag_seconds`` is the age of
the oldest message not yet done: now minus the timestamp of the message at the committed offset,
0 when caught up.

Both come from one fetch: a group-less consumer assigned at the committed offsets reads one
message per partition (its timestamp), and the fetch response carries the high watermark
(``get_watermark_offsets(cached=True)``). ListOffsets is only the fallback when nothing could be
fetched: Tansu answers it wrongly after multi-record produce batches, and on a partition the
runtime has paused librdkafka's own figures go stale, so neither is trusted first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from .errors import ServiceUnavailable
from .metrics import Metrics

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_REFRESH_S = 5.0  # the issue asks for lag at most 5 s old
log = logging.getLogger(__name__)
PartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has no commit here; lag counts from the log start
    high_watermark: int
    lag_messages: int
    lag_seconds: float | None  # None: messages are waiting but none could be read in time

    def as_dict(self) -> dict[str, object]:
        return {"topic": self.topic, "partition": self.partition, "committed": self.committed,
                "high_watermark": self.high_watermark, "lag_messages": self.lag_messages,
                "lag_seconds": self.lag_seconds}


def lag_seconds(oldest_timestamp_ms: int, now_s: float) -> float:
    """Age of a message by its Kafka timestamp; a producer clock ahead of ours reads as 0."""
    return max(0.0, now_s - oldest_timestamp_ms / 1000.0)


def probe_config(bootstrap: str, extra: Mapping[str, str] | None = None) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        # Required by the client; the probe only assigns, so it never joins nor commits.
        "group.id": "consumer-lag-probe",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        # One message per partition is all it needs: keep prefetch small and answers quick.
        "fetch.wait.max.ms": 100,
        "fetch.message.max.bytes": 65536,
        "queued.max.messages.kbytes": 1024,
        "auto.offset.reset": "earliest",
        "log_level": 3,
        **(extra or {}),
    }


class LagProbe:
    """A long-lived group-less consumer; ``measure()`` may be called every few seconds."""

    def __init__(self, bootstrap: str, kafka_config: Mapping[str, str] | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._consumer = Consumer(probe_config(bootstrap, kafka_config))

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def measure(self, committed: Mapping[PartitionKey, int | None]) -> list[PartitionLag]:
        """Lag of each ``(topic, partition)`` given its committed offset (None: no commit)."""
        if not committed:
            return []
        assignment = [TopicPartition(topic, partition,
                                     offset if offset is not None and offset >= 0
                                     else OFFSET_BEGINNING)
                      for (topic, partition), offset in committed.items()]
        first, end = self._read_heads(assignment)
        now_s = time.time()
        lags = [self._lag_of(key, committed[key], first.get(key), end.get(key), now_s)
                for key in committed]
        self._consumer.unassign()
        return lags

    def _read_heads(self, assignment: list[TopicPartition]
                    ) -> tuple[dict[PartitionKey, tuple[int, int]], dict[PartitionKey, int]]:
        """First message (offset, timestamp ms) of each partition, or its end when at EOF."""
        self._consumer.assign(assignment)
        first: dict[PartitionKey, tuple[int, int]] = {}
        end: dict[PartitionKey, int] = {}
        deadline = time.monotonic() + self.timeout_s
        while len(first) + len(end) < len(assignment) and time.monotonic() < deadline:
            for message in self._consumer.consume(500, 0.1):
                error = message.error()
                if error is not None and error.code() == KafkaError._ALL_BROKERS_DOWN:
                    raise ServiceUnavailable(f"the broker does not answer: {error.str()}")
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                if topic is None or partition is None or offset is None:
                    continue  # a client-wide event, not about one partition
                key = (topic, partition)
                if key in first or key in end:
                    continue
                if error is None:
                    first[key] = (offset, message.timestamp()[1])
                elif error.code() == KafkaError._PARTITION_EOF:
                    end[key] = offset
        return first, end

    def _lag_of(self, key: PartitionKey, committed: int | None,
                first: tuple[int, int] | None, eof_at: int | None, now_s: float) -> PartitionLag:
        topic, partition = key
        low, high = self._watermarks(key, eof_at)
        if committed is not None and committed >= 0:
            start = committed
        elif first is not None:
            start = first[0]
        else:
            start = low if low >= 0 else high
        waiting = max(0, high - start)
        if not waiting:
            age: float | None = 0.0
        elif first is not None:
            age = lag_seconds(first[1], now_s)
        else:
            age = None  # messages wait that the probe could not read in time
        return PartitionLag(topic, partition, committed, high, waiting, age)

    def _watermarks(self, key: PartitionKey, eof_at: int | None) -> tuple[int, int]:
        tp = TopicPartition(*key)
        low, high = self._consumer.get_watermark_offsets(tp, cached=True)
        if high >= 0:
            return low, max(high, eof_at or 0)
        if eof_at is not None:
            return low, eof_at
        try:
            low, high = self._consumer.get_watermark_offsets(tp, timeout=self.timeout_s)
        except KafkaException as exc:
            raise ServiceUnavailable(f"cannot read the end of {key[0]}/{key[1]}: {exc}") from exc
        return int(low), int(high)


class LagReporter:
    """Keeps a process's lag gauges fresh: every ``interval_s`` (first at once) it measures the
    partitions ``assigned()`` returns (partition -> committed offset, None when none yet) on its
    own thread, and drops the series of partitions no longer returned. The probe is used from
    that thread only; a broker that does not answer leaves the last figures and is retried."""

    def __init__(self, probe: LagProbe, metrics: Metrics, topic: str,
                 assigned: Callable[[], Mapping[int, int | None]],
                 interval_s: float = DEFAULT_REFRESH_S) -> None:
        self._probe = probe
        self._metrics = metrics
        self._topic = topic
        self._assigned = assigned
        self._interval_s = interval_s
        self._reported: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def refresh(self) -> None:
        committed = dict(self._assigned())
        lags = self._probe.measure({(self._topic, p): offset for p, offset in committed.items()})
        for lag in lags:
            self._metrics.lag(lag.partition, lag.lag_messages, lag.lag_seconds)
        self._metrics.forget_partitions(self._reported - committed.keys())
        self._reported = set(committed)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except (ServiceUnavailable, KafkaException) as exc:
                log.warning("lag not refreshed: %s", exc)
            if self._stop.wait(self._interval_s):
                return
