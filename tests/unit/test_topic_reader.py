"""Reading to the end of a topic: the end is the fetch high watermark, never ListOffsets."""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message

from consumer.errors import ServiceUnavailable
from consumer.topic_reader import TopicReader

UNKNOWN = (-1001, -1001)


class FakeConsumer:
    """Hands out scripted consume() results; watermarks become known as fetches 'happen'."""

    def __init__(self, script: list[list[Message]], watermarks: dict[int, tuple[int, int]],
                 known_after: int = 0) -> None:
        self.script = script
        self.watermarks = watermarks
        self.known_after = known_after
        self.calls = 0
        self.assigned: list = []

    def assign(self, partitions) -> None:
        self.assigned = [(tp.partition, tp.offset) for tp in partitions]

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        self.calls += 1
        return self.script.pop(0) if self.script else []

    def get_watermark_offsets(self, tp, cached: bool):
        assert cached, "ListOffsets (cached=False) is wrong on Tansu"
        return self.watermarks[tp.partition] if self.calls > self.known_after else UNKNOWN


def record(partition: int, offset: int) -> Message:
    return Message(topic="t.dlq", partition=partition, offset=offset, value=b"x")


def read(consumer: FakeConsumer, starts: dict[int, int], **timing) -> tuple[list, TopicReader]:
    reader = TopicReader(consumer, "t.dlq", starts,
                         **{"idle_s": 0.05, "give_up_s": 2.0, **timing})
    got = [(m.partition(), m.offset()) for batch in reader.batches() for m in batch]
    return got, reader


def test_reads_every_partition_from_its_start_to_the_high_watermark():
    consumer = FakeConsumer([[record(0, 0), record(0, 1)], [], [record(1, 5)]],
                            {0: (0, 2), 1: (0, 6), 2: (0, 0)})
    got, reader = read(consumer, {0: OFFSET_BEGINNING, 1: 5, 2: OFFSET_BEGINNING})
    assert got == [(0, 0), (0, 1), (1, 5)]
    assert consumer.assigned == [(0, OFFSET_BEGINNING), (1, 5), (2, OFFSET_BEGINNING)]
    assert reader.unconfirmed == [] and reader.backlog() == 0


def test_does_not_stop_while_a_partition_is_behind_its_watermark():
    # Records of partition 0 arrive after several empty consumes: no early stop.
    script = [[], [], [], [record(0, 0)]]
    consumer = FakeConsumer(script, {0: (0, 1)})
    got, reader = read(consumer, {0: OFFSET_BEGINNING}, idle_s=0.0)
    assert got == [(0, 0)] and reader.unconfirmed == []


def test_does_not_stop_before_the_watermarks_are_known():
    consumer = FakeConsumer([], {0: (0, 0)}, known_after=20)
    _, reader = read(consumer, {0: OFFSET_BEGINNING}, idle_s=0.0)
    assert consumer.calls > 20 and reader.unconfirmed == []


def test_gives_up_and_says_so_when_the_end_is_never_confirmed():
    consumer = FakeConsumer([], {0: (0, 0)}, known_after=10**9)
    got, reader = read(consumer, {0: OFFSET_BEGINNING}, give_up_s=0.2)
    assert got == [] and reader.unconfirmed == [0]


def test_a_start_below_the_low_watermark_reads_on_from_it():
    consumer = FakeConsumer([], {0: (10, 10)})
    _, reader = read(consumer, {0: 3})
    assert reader.unconfirmed == []


def test_backlog_counts_what_is_left_once_every_end_is_known():
    consumer = FakeConsumer([], {0: (0, 10), 1: (0, 4)})
    reader = TopicReader(consumer, "t.dlq", {0: 6, 1: OFFSET_BEGINNING})
    assert reader.backlog() is None  # nothing fetched yet
    consumer.consume(1, 0.1)
    assert reader.backlog() == 4 + 4


def test_a_broker_error_that_will_not_pass_stops_the_read():
    error = Message(topic="t.dlq", partition=0, error=KafkaError(
        KafkaError.TOPIC_AUTHORIZATION_FAILED))
    consumer = FakeConsumer([[error]], {0: (0, 1)})
    with pytest.raises(ServiceUnavailable, match=r"t\.dlq"):
        read(consumer, {0: OFFSET_BEGINNING})


def test_transient_client_errors_are_waited_out():
    blip = Message(topic="t.dlq", partition=0, error=KafkaError(KafkaError._TRANSPORT))
    consumer = FakeConsumer([[blip], [record(0, 0)]], {0: (0, 1)})
    got, _ = read(consumer, {0: OFFSET_BEGINNING})
    assert got == [(0, 0)]
