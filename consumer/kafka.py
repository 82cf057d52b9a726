"""librdkafka configuration for our clients, and the broker calls the CLI and runtime share."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from .errors import ServiceUnavailable

log = logging.getLogger("consumer.librdkafka")

# Once librdkafka's prefetch buffer is full, a partition's next fetch waits this long (its
# default: 1000 ms). A pipeline that drains the buffer within that second then finds it empty:
# on a backlog of bytes records ours polled nothing for ~200 ms at a time, 134k msg/s against
# 403k at 20 ms (bench/RESULTS.md).
FETCH_QUEUE_BACKOFF_MS = 20


def client_id(role: str) -> str:
    return f"consumer-{role}-{socket.gethostname()}-{os.getpid()}"


def consumer_config(bootstrap: str, group: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """At-least-once: librdkafka commits in the background only offsets we stored, and we
    store an offset only once it and everything below it is done."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id("run"),
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
        # Short: after a crash, work done since the last commit is handled again.
        "auto.commit.interval.ms": 200,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        # Bounds librdkafka's own prefetch buffer, which sits outside --max-buffered.
        "queued.max.messages.kbytes": 32768,
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
        "logger": log,
    }
    config.update(overrides)
    return config


def producer_config(bootstrap: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id("produce"),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "logger": log,
    }
    # Consumer-only keys in a shared [kafka] table would make the producer warn: keep the
    # connection and security ones, and the record size limit (a topic that takes records
    # above librdkafka's 1 MB default needs it, or their dead letters are refused).
    config.update({k: v for k, v in overrides.items()
                   if k.startswith(("security.", "sasl.", "ssl.", "client.dns", "socket."))
                   or k == "message.max.bytes"})
    return config


def admin(bootstrap: str, overrides: Mapping[str, str] | None = None) -> AdminClient:
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": log}
    config.update({k: v for k, v in (overrides or {}).items()
                   if k.startswith(("security.", "sasl.", "ssl."))})
    return AdminClient(config)


def partition_count(client: AdminClient, topic: str, timeout_s: float = 10.0) -> int | None:
    """The topic's partition count, or None when the topic does not exist."""
    try:
        # All topics: asking for one by name makes some brokers (Tansu) create it.
        metadata = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ServiceUnavailable(f"broker did not answer: {exc}") from None
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        return None
    return len(described.partitions)

