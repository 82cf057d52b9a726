"""Replay bookkeeping: what is committed when, and the replay group's name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition

from consumer import constants as c
from consumer.dlq_filter import LetterFilter
from consumer.dlq_replay import Replayer, ReplayOptions, default_group
from consumer.errors import ReplayError


def letter(partition: int, offset: int, *, replays: int = 0, topic: str | None = "orders"
           ) -> Message:
    headers = [("message-id", f"m-{partition}-{offset}".encode())]
    if topic:
        headers += [(c.DLQ_ORIGINAL_TOPIC, topic.encode()), (c.DLQ_ORIGINAL_PARTITION, b"0")]
    headers += [(c.DLQ_ERROR_CATEGORY, b"handler"), (c.DLQ_REPLAY_COUNT, str(replays).encode())]
    return Message(topic="orders.dlq", partition=partition, offset=offset, key=b"k",
                   value=f"v{partition}-{offset}".encode(), headers=headers,
                   timestamp=(1, 1795305600000))


class FakeConsumer:
    def __init__(self, records: list[Message], partitions: int = 2,
                 committed: dict[int, int] | None = None) -> None:
        self.records = records
        self.partitions = partitions
        self.start = committed or {}
        self.commits: list[dict[int, int]] = []
        self.consumed = False

    def list_topics(self, timeout: float):
        topic = SimpleNamespace(partitions=dict.fromkeys(range(self.partitions)), error=None)
        return SimpleNamespace(topics={"orders.dlq": topic, "orders": topic})

    def committed(self, tps, timeout: float):
        return [TopicPartition(tp.topic, tp.partition, self.start.get(tp.partition, -1001))
                for tp in tps]

    def assign(self, tps) -> None:
        self.assigned = {tp.partition: tp.offset for tp in tps}

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        if self.consumed:
            return []
        self.consumed = True
        return [r for r in self.records if r.offset() >= self.assigned[r.partition()]]

    def get_watermark_offsets(self, tp, cached: bool):
        ends = [r.offset() + 1 for r in self.records if r.partition() == tp.partition]
        return (0, max(ends, default=0))

    def commit(self, offsets, asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append({tp.partition: tp.offset for tp in offsets})


class FakeProducer:
    def __init__(self, failing_values: set[bytes] = frozenset()) -> None:
        self.failing = failing_values
        self.pending: list = []
        self.sent: list[tuple[str, bytes, list]] = []

    def produce(self, topic, value, key, **options) -> None:
        self.pending.append((value, options["on_delivery"]))
        self.sent.append((topic, value, options["headers"]))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for value, report in self.pending:
            report(KafkaError(KafkaError._MSG_TIMED_OUT) if value in self.failing else None, None)
        self.pending = []
        return 0


class Silent:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def total(self, letters: int) -> None: ...
    def advance(self, letters: int) -> None: ...

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def replay(consumer, producer, **options):
    progress = Silent()
    replayer = Replayer(ReplayOptions(topic="orders.dlq", group="orders.dlq.replay", **options),
                        consumer, producer, progress)
    return replayer, progress


RECORDS = [letter(0, 0), letter(0, 1), letter(0, 2), letter(1, 0), letter(1, 1)]


def test_everything_acknowledged_commits_past_the_last_letter():
    consumer, producer = FakeConsumer(RECORDS), FakeProducer()
    report = replay(consumer, producer)[0].run()
    assert report.replayed == 5
    assert consumer.commits == [{0: 3, 1: 2}]
    assert [value for _, value, _ in producer.sent] == [r.value() for r in RECORDS]


def test_progress_stops_before_the_first_unacknowledged_letter_of_each_partition():
    consumer, producer = FakeConsumer(RECORDS), FakeProducer({b"v0-1"})
    replayer, _ = replay(consumer, producer)
    with pytest.raises(ReplayError, match=r"1 republished letter.* 0:1"):
        replayer.run()
    assert consumer.commits == [{0: 1, 1: 2}]
    actions = {(e["partition"], e["offset"]): e["action"] for e in replayer.report.letters}
    assert actions[(0, 1)] == "failed" and actions[(0, 2)] == "replayed"


def test_a_run_resumes_from_the_committed_progress():
    consumer, producer = FakeConsumer(RECORDS, committed={0: 2, 1: 2}), FakeProducer()
    report = replay(consumer, producer)[0].run()
    assert report.replayed == 1 and [v for _, v, _ in producer.sent] == [b"v0-2"]


def test_limit_replays_that_many_and_commits_no_further():
    consumer, producer = FakeConsumer(RECORDS), FakeProducer()
    report = replay(consumer, producer, limit=2)[0].run()
    assert report.replayed == 2
    assert consumer.commits == [{0: 2}]


def test_letters_over_max_replays_are_skipped_with_a_warning_and_passed():
    records = [letter(0, 0, replays=3), letter(0, 1, replays=2)]
    consumer, producer = FakeConsumer(records), FakeProducer()
    replayer, progress = replay(consumer, producer, max_replays=3)
    report = replayer.run()
    assert (report.replayed, report.skipped_max_replays) == (1, 1)
    assert "replayed 3 times already" in progress.warnings[0]
    assert consumer.commits == [{0: 2}]
    assert dict(producer.sent[0][2])[c.DLQ_REPLAY_COUNT] == b"3"


def test_a_letter_with_nowhere_to_go_is_skipped_with_a_warning():
    consumer, producer = FakeConsumer([letter(0, 0, topic=None)]), FakeProducer()
    replayer, progress = replay(consumer, producer)
    assert replayer.run().skipped_no_target == 1
    assert "--to" in progress.warnings[0] and producer.sent == []


def test_a_missing_original_topic_stops_the_replay_before_that_letter():
    consumer, producer = FakeConsumer([letter(0, 0), letter(0, 1, topic="gone")]), FakeProducer()
    replayer, _ = replay(consumer, producer)
    with pytest.raises(ReplayError, match="'gone' does not exist"):
        replayer.run()
    assert consumer.commits == [{0: 1}]


def test_a_dry_run_produces_and_commits_nothing():
    consumer = FakeConsumer(RECORDS)
    report = replay(consumer, None, dry_run=True)[0].run()
    assert report.replayed == 5 and consumer.commits == []
    assert {e["action"] for e in report.letters} == {"would_replay"}


def test_filters_pass_over_other_letters_and_count_them():
    records = [letter(0, 0), Message(topic="orders.dlq", partition=0, offset=1, value=b"x",
                                     headers=[(c.DLQ_ERROR_CATEGORY, b"data"),
                                              (c.DLQ_ORIGINAL_TOPIC, b"orders")],
                                     timestamp=(1, 0))]
    consumer, producer = FakeConsumer(records, partitions=1), FakeProducer()
    report = replay(consumer, producer, select=LetterFilter(category="data"))[0].run()
    assert (report.replayed, report.not_matching) == (1, 1)
    assert producer.sent[0][1] == b"x"


def test_a_plain_replay_uses_the_topic_replay_group():
    assert default_group("orders.dlq", LetterFilter(), None) == "orders.dlq.replay"


def test_filtered_replays_keep_their_own_stable_progress_group():
    data = default_group("orders.dlq", LetterFilter(category="data"), None)
    assert data.startswith("orders.dlq.replay.") and data != "orders.dlq.replay"
    assert data == default_group("orders.dlq", LetterFilter(category="data"), None)
    assert data != default_group("orders.dlq", LetterFilter(category="handler"), None)
    assert data != default_group("orders.dlq", LetterFilter(category="data"), "elsewhere")


class PacedClock:
    """The replayer waits in producer.poll(timeout): the fake producer moves this clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sends: list[float] = []

    def __call__(self) -> float:
        return self.now


def test_rate_spaces_republished_letters_by_one_over_the_rate():
    clock = PacedClock()
    producer = FakeProducer()
    produce = producer.produce

    def poll(timeout: float) -> int:
        clock.now += timeout
        return 0

    def timed_produce(topic, value, key, **options) -> None:
        clock.sends.append(clock.now)
        produce(topic, value, key, **options)

    producer.poll, producer.produce = poll, timed_produce
    replayer = Replayer(ReplayOptions(topic="orders.dlq", group="g", rate_per_s=4.0),
                        FakeConsumer(RECORDS), producer, Silent(), clock=clock)
    assert replayer.run().replayed == 5
    gaps = [later - earlier for earlier, later in zip(clock.sends, clock.sends[1:], strict=False)]
    assert gaps == pytest.approx([0.25] * 4)
