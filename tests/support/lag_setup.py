"""Broker set-up for the lag tests: topics, records produced in multi-record batches (where
Tansu's ListOffsets goes wrong) with their exact end offsets from delivery reports, and group
commits made without running a consumer."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from .kafka import create_topic

__all__ = ["commit", "create_topic", "produce_batched"]


def produce_batched(bootstrap: str, topic: str,
                    timestamps_ms: dict[int, list[int]]) -> dict[int, int]:
    """One record per timestamp into each partition, lingering so each partition's records
    share a batch. Returns each partition's end offset (last offset + 1) as delivered."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 200})
    ends: dict[int, int] = {}
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(str(error))
        else:
            ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)

    for partition, stamps in timestamps_ms.items():
        for index, stamp in enumerate(stamps):
            producer.produce(topic, f"record {index}".encode(), partition=partition,
                             timestamp=stamp, on_delivery=delivered)
    if producer.flush(15) or failures:
        raise KafkaException(f"produce failed: {failures or 'flush timed out'}")
    return ends


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)
                                 for partition, offset in offsets.items()], asynchronous=False)
    finally:
        consumer.close()
