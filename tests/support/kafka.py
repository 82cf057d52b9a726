"""Broker-side helpers for integration tests: topics, producing with exact end offsets,
reading a group's committed offsets, and waiting for a group to be stable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, ConsumerGroupState, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# Tansu is fast to join with these; tests pass them to every consumer they start.
GROUP_TIMINGS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(15)


Record = tuple[bytes | None, bytes | None, dict[str, bytes] | None]


def produce(bootstrap: str, topic: str, records: Iterable[Record],
            partitioner: Callable[[int], int] | None = None,
            timestamp_ms: Callable[[int], int] | None = None) -> dict[int, int]:
    """Produces ``(key, value, headers)`` records; returns partition -> end offset (last
    offset + 1) from the delivery reports, exact even where the broker's ListOffsets is not."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": True})
    ends: dict[int, int] = {}
    failures: list[str] = []

    def delivered(err, msg) -> None:
        if err is not None:
            failures.append(str(err))
            return
        ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)

    for index, (key, value, headers) in enumerate(records):
        extra = {} if partitioner is None else {"partition": partitioner(index)}
        if timestamp_ms is not None:
            extra["timestamp"] = timestamp_ms(index)
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers,
                                 on_delivery=delivered, **extra)
                break
            except BufferError:
                producer.poll(0.05)
        if index % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0, "records left undelivered"
    assert not failures, failures[:3]
    return ends


def committed(bootstrap: str, group: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = client.committed([TopicPartition(topic, p) for p in partitions], timeout=15)
    finally:
        client.close()
    return {tp.partition: tp.offset for tp in offsets}


def wait_for(check: Callable[[], bool], timeout_s: float, what: str,
             interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def wait_until_stable(bootstrap: str, group: str, for_s: float, timeout_s: float) -> float:
    """Waits until the broker has reported ``group`` stable for ``for_s`` on end (a
    cooperative rebalance has a second round a moment after the first one settled); returns the
    seconds waited."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    started = time.monotonic()
    stable_since: float | None = None
    while True:
        now = time.monotonic()
        state = admin.describe_consumer_groups([group])[group].result(10).state
        if state != ConsumerGroupState.STABLE:
            stable_since = None
        elif stable_since is None:
            stable_since = now
        elif now - stable_since >= for_s:
            return now - started
        if now - started > timeout_s:
            raise AssertionError(f"group {group} not stable for {for_s}s within {timeout_s}s "
                                 f"(last state {state.name})")
        time.sleep(0.2)
