from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from consumer.dispatch import Dispatcher, lane_of


def _messages(keys: list[int | None], partition: int = 0, ordering: str = "key"):
    lane = lane_of(ordering)
    return [SimpleNamespace(offset=i, partition=partition, key=k, lane=lane(k, partition))
            for i, k in enumerate(keys)]


def test_one_message_per_lane_is_ready_and_the_rest_wait_in_offset_order():
    d = Dispatcher("key")
    msgs = _messages([1, 2, 1, 1, 3])
    d.add(msgs)
    assert [m.offset for m in d.take(10)] == [0, 1, 4]
    d.release(msgs[0])
    assert [m.offset for m in d.take(10)] == [2]
    d.release(msgs[2])
    assert [m.offset for m in d.take(10)] == [3]
    assert len(d) == 0


def test_partition_ordering_serialises_a_partition_and_unordered_serialises_nothing():
    d = Dispatcher("partition")
    d.add(_messages([1, 2, 3], ordering="partition"))
    assert len(d.take(10)) == 1
    u = Dispatcher("unordered")
    u.add(_messages([1, 1, 1], ordering="unordered"))
    assert len(u.take(10)) == 3


def test_keyless_records_keep_their_partition_order():
    d = Dispatcher("key")
    d.add(_messages([None, None, 7]))
    assert [m.offset for m in d.take(10)] == [0, 2]


def test_drop_removes_rejected_messages_and_promotes_survivors_of_their_lanes():
    d = Dispatcher("key")
    p0 = _messages([1, 1, 2], partition=0)
    p1 = [SimpleNamespace(offset=10 + i, partition=1, key=1, lane=1) for i in range(2)]
    d.add(p0[:1])
    running = d.take(1)            # offset 0 of lane 1 is running
    d.add(p0[1:] + p1)
    dropped = d.drop(lambda m: m.partition != 0)
    assert sorted(m.offset for m in dropped) == [1, 2]
    assert d.take(10) == []        # lane 1 still runs: p1's messages wait behind it
    d.release(running[0])
    assert [m.offset for m in d.take(10)] == [10]


@given(st.lists(st.integers(0, 5), max_size=40), st.randoms())
def test_any_release_order_runs_each_lane_in_offset_order(keys, rnd):
    d = Dispatcher("key")
    msgs = _messages(keys)
    d.add(msgs)
    started: list = []
    running: list = []
    finished = 0
    while finished < len(msgs):
        taken = d.take(rnd.randint(1, 3))
        started += taken
        running += taken
        assert len({m.lane for m in running}) == len(running), "a lane ran twice at once"
        d.release(running.pop(rnd.randrange(len(running))))
        finished += 1
    for key in set(keys):
        offsets = [m.offset for m in started if m.key == key]
        assert offsets == sorted(offsets)


def test_a_retry_that_is_due_goes_first_and_queued_lists_everything_not_handed_out():
    d = Dispatcher("key")
    msgs = _messages([1, 2, 1, 3])
    d.add(msgs)
    retrying = d.take(1)[0]              # offset 0 fails: it keeps lane 1 while it waits
    assert sorted(m.offset for m in d.queued()) == [1, 2, 3]
    d.requeue(retrying)
    assert d.take(1) == [retrying]
    assert len(d) == 3


def test_unordered_drop_keeps_only_what_keep_accepts():
    d = Dispatcher("unordered")
    d.add(_messages([1, 1], partition=0) + _messages([1], partition=1))
    assert [m.partition for m in d.drop(lambda m: m.partition == 1)] == [0, 0]
    assert [m.partition for m in d.take(10)] == [1]
