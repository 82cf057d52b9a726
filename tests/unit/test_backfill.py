"""A bounded backfill: where it starts, what it reads past, when it is finished, and the
progress lines a person watches."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from confluent_kafka import OFFSET_END, OFFSET_INVALID, TopicPartition

from consumer import backfill as backfill_module
from consumer.backfill import PROGRESS_EVERY_S, Backfill, backfill_group

FROM_MS, UNTIL_MS = 1_000, 2_000


class Raw:
    def __init__(self, partition: int, timestamp_ms: int) -> None:
        self._partition, self._timestamp = partition, timestamp_ms

    def partition(self) -> int:
        return self._partition

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)


class Consumer:
    """offsets_for_times over a fixed answer per partition (-1: no record at or after T)."""

    def __init__(self, answers: dict[int, int]) -> None:
        self.answers = answers
        self.asked: list[list[tuple[int, int]]] = []

    def offsets_for_times(self, partitions: list[TopicPartition], timeout: float
                          ) -> list[TopicPartition]:
        self.asked.append([(tp.partition, tp.offset) for tp in partitions])
        return [TopicPartition(tp.topic, tp.partition, self.answers[tp.partition])
                for tp in partitions]


def test_a_backfill_runs_under_a_group_of_its_own_per_range():
    assert backfill_group("billing", FROM_MS, UNTIL_MS) == "billing.backfill-1000-2000"
    assert backfill_group("billing", FROM_MS, None) == "billing.backfill-1000-open"


def test_records_outside_the_range_are_read_past_and_the_range_is_inclusive():
    run = Backfill(FROM_MS, UNTIL_MS)
    assert [run.outside(Raw(0, t)) for t in (999, 1_000, 1_500, 2_000)] == [
        True, False, False, False]
    assert run.passed == set()
    assert run.outside(Raw(3, 2_001)) is True
    assert run.passed == {3}


def test_an_open_ended_backfill_handles_everything_from_its_start():
    run = Backfill(FROM_MS, None)
    assert run.outside(Raw(0, 10**13)) is False and run.outside(Raw(0, 999)) is True
    assert not run.finished({0})


def test_finished_once_every_assigned_partition_has_passed_the_end():
    run = Backfill(FROM_MS, UNTIL_MS)
    assert not run.finished(set()), "nothing assigned yet is not finished"
    run.outside(Raw(0, 5_000))
    assert not run.finished({0, 1})
    run.reached_end(1)
    assert run.finished({0, 1})
    assert not run.finished({0, 1, 2})


def test_fresh_partitions_start_at_the_offsets_for_the_start_time():
    consumer = Consumer({0: 17, 1: 4})
    partitions = [TopicPartition("orders", 0), TopicPartition("orders", 1)]
    starts = Backfill(FROM_MS, UNTIL_MS).start_offsets(consumer, partitions, {0: -1, 1: -1001})
    assert consumer.asked == [[(0, FROM_MS), (1, FROM_MS)]]
    assert [(tp.topic, tp.partition, tp.offset) for tp in starts] == [
        ("orders", 0, 17), ("orders", 1, 4)]


def test_a_partition_with_nothing_after_the_start_time_starts_at_its_end():
    consumer = Consumer({0: -1})
    starts = Backfill(FROM_MS, UNTIL_MS).start_offsets(
        consumer, [TopicPartition("orders", 0)], {})
    assert starts[0].offset == OFFSET_END


def test_a_resumed_run_reads_from_its_own_commits_without_asking_for_times():
    consumer = Consumer({0: 17, 1: 4})
    partitions = [TopicPartition("orders", 0), TopicPartition("orders", 1)]
    starts = Backfill(FROM_MS, UNTIL_MS).start_offsets(consumer, partitions, {0: 30, 1: -1})
    assert consumer.asked == [[(1, FROM_MS)]]
    assert [(tp.partition, tp.offset) for tp in starts] == [(0, OFFSET_INVALID), (1, 4)]
    consumer.asked.clear()
    Backfill(FROM_MS, UNTIL_MS).start_offsets(consumer, partitions, {0: 30, 1: 8})
    assert consumer.asked == []


def test_progress_is_logged_every_few_seconds(monkeypatch, caplog):
    now = [0.0]
    monkeypatch.setattr(backfill_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    caplog.set_level(logging.INFO, logger="consumer.backfill")
    run = Backfill(FROM_MS, UNTIL_MS)
    run.progress({"processed": 3}, {0, 1})
    assert caplog.records == []
    now[0] = PROGRESS_EVERY_S
    run.reached_end(1)
    run.progress({"processed": 3, "skipped": 2}, {0, 1})
    assert caplog.messages == [
        "backfill: 3 processed, 2 skipped; 1 of 2 partitions past the end of the range"]
    now[0] += PROGRESS_EVERY_S / 2
    run.progress({"processed": 4}, {0, 1})
    assert len(caplog.messages) == 1
    now[0] += PROGRESS_EVERY_S
    run.progress({}, {0})
    assert caplog.messages[-1] == ("backfill: nothing yet; 0 of 1 partitions past the end of "
                                   "the range")

