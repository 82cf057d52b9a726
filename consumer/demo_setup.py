"""The demo's ground on the embedded stack: its schemas registered, its topics and consumer
groups started afresh (so every run ends with the same figures), and the planned records
produced with the broker's acknowledgement of each."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupState, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from redis.exceptions import RedisError

from .avro_codec import AvroEncoder
from .constants import DEFAULT_ID_HEADER, REDIS_PREFIX, WIRE_HEADER_BYTES
from .demo_data import BAD_BYTES, TRUNCATED, PlannedRecord
from .errors import (
    DemoError,
    RedisUnavailable,
    RegistryError,
    RegistryUnavailable,
    ServiceUnavailable,
)
from .kafka import admin, producer_config
from .redis_conn import connect
from .registry_client import RegistryClient

ADMIN_TIMEOUT_S = 15.0
# Apache Kafka deletes a topic in the background: creating it again fails until it is gone.
RECREATE_WAIT_S = 30.0
_GONE = {KafkaError.GROUP_ID_NOT_FOUND, KafkaError.UNKNOWN_TOPIC_OR_PART}
_ACTIVE = {ConsumerGroupState.STABLE, ConsumerGroupState.PREPARING_REBALANCING,
           ConsumerGroupState.COMPLETING_REBALANCING}


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    file: Path
    subject: str


def register_schemas(registry_url: str, versions: Iterable[SchemaVersion]
                     ) -> dict[str, AvroEncoder]:
    """Registers each file under its subject, in order (registering a schema again returns the
    version it already has); returns name -> an encoder writing with the registered id."""
    encoders: dict[str, AvroEncoder] = {}
    with RegistryClient(registry_url) as client:
        for version in versions:
            text = version.file.read_text()
            try:
                answer = client.register(version.subject, text)
            except RegistryUnavailable as exc:
                raise ServiceUnavailable(str(exc)) from None
            except RegistryError as exc:
                raise DemoError(f"registering {version.file.name} under {version.subject}: "
                                f"{exc} (subject changed since an earlier demo? "
                                f"`consumer schemas show {version.subject}`)") from None
            encoders[version.name] = AvroEncoder(answer.schema_id, json.loads(text))
    return encoders


def glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis SCAN/KEYS pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def forget_group_state(redis_url: str, group: str) -> int:
    """Deletes what the runtime keeps in Redis for ``group`` (done ids, the Bloom filter's log
    and snapshots, attempt counts and marks: every key hash-tagged with the group, see
    redis_keys.py); returns how many keys went. Without this, a group whose topic was made
    anew would read its old marks as a crash in flight and its old ids as duplicates."""
    tag = glob_escape(group)
    patterns = [f"{REDIS_PREFIX}:{{{tag}}}:*", f"{REDIS_PREFIX}:{{{tag}#*}}:*"]
    client = connect(redis_url)
    try:
        doomed = {key for pattern in patterns for key in client.scan_iter(match=pattern,
                                                                          count=1000)}
        if doomed:
            client.unlink(*doomed)
    except RedisUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    except RedisError as exc:
        raise ServiceUnavailable(f"Redis {redis_url}: {exc}") from None
    finally:
        client.close()
    return len(doomed)


def reset_topics(bootstrap: str, topics: Mapping[str, int], groups: Iterable[str]) -> None:
    """Deletes ``groups`` (their committed offsets) and ``topics``, then creates each topic
    with its partition count. A group with members left is an error: it would go on reading."""
    client = admin(bootstrap)
    _delete_groups(client, list(groups))
    try:
        existing = set(client.list_topics(timeout=ADMIN_TIMEOUT_S).topics)
    except KafkaException as exc:
        raise ServiceUnavailable(f"the broker {bootstrap} does not answer: {exc}") from None
    doomed = [topic for topic in topics if topic in existing]
    if doomed:
        for topic, future in client.delete_topics(doomed, operation_timeout=ADMIN_TIMEOUT_S
                                                  ).items():
            _settle(future, f"deleting topic {topic}")
    for topic, partitions in topics.items():
        _create(client, topic, partitions)


def _refuse_running_members(client: AdminClient, groups: list[str]) -> None:
    """Some brokers (Tansu) delete a group that still has members, and a member whose topic
    then vanishes can die badly: ask first, and leave a running consumer alone. Tansu lists
    no members, so the group's state decides."""
    for group, future in client.describe_consumer_groups(
            groups, request_timeout=ADMIN_TIMEOUT_S).items():
        try:
            described = future.result(ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            if exc.args[0].code() in _GONE:
                continue
            raise ServiceUnavailable(f"describing consumer group {group!r}: "
                                     f"{exc.args[0].str()}") from None
        if described.members or described.state in _ACTIVE:
            raise DemoError(f"consumer group {group!r} is in use (state "
                            f"{described.state.name.lower()}): a consumer of it is running, or "
                            f"died less than its session timeout ago; stop it, then run the "
                            f"demo again")


def _delete_groups(client: AdminClient, groups: list[str]) -> None:
    _refuse_running_members(client, groups)
    for group, future in client.delete_consumer_groups(
            groups, request_timeout=ADMIN_TIMEOUT_S).items():
        try:
            future.result(ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == KafkaError.NON_EMPTY_GROUP:
                raise DemoError(f"consumer group {group!r} still has members (a consumer left "
                                f"running?): stop it, then run the demo again") from None
            if code not in _GONE:
                raise ServiceUnavailable(f"deleting consumer group {group!r}: "
                                         f"{exc.args[0].str()}") from None


def _create(client: AdminClient, topic: str, partitions: int) -> None:
    deadline = time.monotonic() + RECREATE_WAIT_S
    while True:
        future = client.create_topics([NewTopic(topic, partitions, replication_factor=-1)],
                                      request_timeout=ADMIN_TIMEOUT_S)[topic]
        try:
            future.result(ADMIN_TIMEOUT_S)
            return
        except KafkaException as exc:
            if (exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS
                    or time.monotonic() > deadline):
                raise ServiceUnavailable(f"creating topic {topic}: {exc.args[0].str()}") from None
        time.sleep(0.5)


def _settle(future: Any, what: str) -> None:
    try:
        future.result(ADMIN_TIMEOUT_S)
    except KafkaException as exc:
        if exc.args[0].code() not in _GONE:
            raise ServiceUnavailable(f"{what}: {exc.args[0].str()}") from None


def encode(record: PlannedRecord, encoders: Mapping[str, AvroEncoder]) -> bytes:
    """The value bytes of a planned record."""
    if record.kind == BAD_BYTES:
        return json.dumps(record.order).encode()
    value = encoders[record.schema].encode(record.order)
    if record.kind == TRUNCATED:
        return value[:WIRE_HEADER_BYTES + (len(value) - WIRE_HEADER_BYTES) // 2]
    return value


def produce(bootstrap: str, topic: str, records: list[PlannedRecord],
            encoders: Mapping[str, AvroEncoder], advance: Callable[[int], None]) -> dict[int, int]:
    """Produces the records in order, keyed by customer, with the order id in the
    ``message-id`` header; returns partition -> end offset from the delivery reports (exact,
    where a broker's ListOffsets may not be)."""
    producer = Producer(producer_config(bootstrap, {}))
    ends: dict[int, int] = {}
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Any) -> None:
        if error is not None:
            failures.append(error.str())
        else:
            ends[message.partition()] = max(ends.get(message.partition(), 0),
                                            message.offset() + 1)
        advance(1)

    for record in records:
        headers: list[tuple[str, str | bytes | None]] = [(DEFAULT_ID_HEADER, record.message_id)]
        while True:
            try:
                producer.produce(topic, encode(record, encoders), record.key.encode(),
                                 headers=headers, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.2)
        producer.poll(0)
    left = producer.flush(ADMIN_TIMEOUT_S * 2)
    if left or failures:
        reason = failures[0] if failures else f"{left} records not acknowledged in time"
        raise ServiceUnavailable(f"producing to {topic}: {reason}")
    return ends
