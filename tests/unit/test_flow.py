"""Flow control: fetching pauses while any reason holds and resumes, exactly what was paused,
once none is left."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from consumer.flow import Flow


class Consumer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, int]]]] = []
        self.refuse = False

    def _record(self, action: str, partitions: list) -> None:
        if self.refuse:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
        self.calls.append((action, [(tp.topic, tp.partition) for tp in partitions]))

    def pause(self, partitions: list) -> None:
        self._record("pause", partitions)

    def resume(self, partitions: list) -> None:
        self._record("resume", partitions)


def flow_with(*partitions: int) -> tuple[Flow, Consumer]:
    consumer = Consumer()
    flow = Flow(consumer, "orders")
    flow.assigned(list(partitions))
    return flow, consumer


def test_nothing_is_paused_while_no_reason_holds():
    flow, consumer = flow_with(0, 1)
    assert consumer.calls == [] and not flow.paused


def test_reasons_combine_and_fetching_resumes_only_once_the_last_one_goes():
    flow, consumer = flow_with(0, 1)
    flow.hold("buffer", True)
    flow.hold("redis", True)
    assert consumer.calls == [("pause", [("orders", 0), ("orders", 1)])]
    assert flow.reasons == {"buffer", "redis"} and flow.paused_partitions == 2
    flow.hold("buffer", False)
    assert len(consumer.calls) == 1 and flow.paused
    flow.hold("redis", False)
    assert consumer.calls[-1] == ("resume", [("orders", 0), ("orders", 1)])
    assert not flow.paused and flow.paused_partitions == 0


def test_holding_or_releasing_a_reason_twice_changes_nothing():
    flow, consumer = flow_with(0)
    flow.hold("registry", True)
    flow.hold("registry", True)
    flow.hold("registry", False)
    flow.hold("registry", False)
    assert [action for action, _ in consumer.calls] == ["pause", "resume"]


def test_partitions_assigned_while_paused_start_paused_and_only_they_are_paused_again():
    flow, consumer = flow_with(0)
    flow.hold("buffer", True)
    flow.assigned([1, 2])
    assert consumer.calls == [("pause", [("orders", 0)]),
                              ("pause", [("orders", 1), ("orders", 2)])]
    assert flow.paused_partitions == 3


def test_revoked_partitions_are_not_resumed():
    flow, consumer = flow_with(0, 1, 2)
    flow.hold("redis", True)
    flow.revoked([1])
    flow.hold("redis", False)
    assert consumer.calls[-1] == ("resume", [("orders", 0), ("orders", 2)])


def test_resume_touches_only_the_partitions_it_paused():
    flow, consumer = flow_with(0)
    flow.hold("buffer", True)
    consumer.refuse = True          # a partition revoked under us: the pause did not happen
    flow.assigned([1])
    consumer.refuse = False
    flow.hold("buffer", False)
    assert consumer.calls == [("pause", [("orders", 0)]), ("resume", [("orders", 0)])]


def test_a_refused_pause_is_tried_again_on_the_next_change():
    flow, consumer = flow_with(0, 1)
    consumer.refuse = True
    flow.hold("buffer", True)
    assert flow.paused_partitions == 0
    consumer.refuse = False
    flow.hold("redis", True)
    assert consumer.calls == [("pause", [("orders", 0), ("orders", 1)])]
    assert flow.paused_partitions == 2


def test_the_buffer_bound_spares_awaited_partitions_and_other_reasons_do_not():
    flow, consumer = flow_with(0, 1, 2)
    flow.await_partitions(frozenset({1}))
    flow.hold("buffer", True)
    assert consumer.calls == [("pause", [("orders", 0), ("orders", 2)])]
    flow.hold("redis", True)
    assert consumer.calls[-1] == ("pause", [("orders", 1)])
    flow.hold("redis", False)
    assert consumer.calls[-1] == ("resume", [("orders", 1)])
    flow.await_partitions(frozenset())      # its awaited records came: the bound holds it too
    assert consumer.calls[-1] == ("pause", [("orders", 1)])
    flow.hold("buffer", False)
    assert consumer.calls[-1] == ("resume", [("orders", 0), ("orders", 1), ("orders", 2)])
    assert not flow.paused and flow.paused_partitions == 0


def test_a_partition_awaited_while_paused_by_the_buffer_is_resumed():
    flow, consumer = flow_with(0, 1)
    flow.hold("buffer", True)
    flow.await_partitions(frozenset({0}))
    assert consumer.calls == [("pause", [("orders", 0), ("orders", 1)]),
                              ("resume", [("orders", 0)])]
    assert flow.paused_partitions == 1
