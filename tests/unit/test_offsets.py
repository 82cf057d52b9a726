from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from consumer.offsets import PartitionTracker


def _track(tracker: PartitionTracker, offsets: list[int]) -> None:
    for offset in offsets:
        tracker.track(SimpleNamespace(offset=offset))


@st.composite
def offsets_and_completions(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Increasing offsets with gaps (compaction, transaction markers) and a completion order
    over a random subset of them."""
    gaps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=60))
    start = draw(st.integers(0, 1000))
    offsets = [start + sum(gaps[: i + 1]) for i in range(len(gaps))]
    done = draw(st.lists(st.sampled_from(offsets), unique=True, max_size=len(offsets)))
    return offsets, done


@given(offsets_and_completions())
def test_any_completion_order_commits_exactly_the_contiguous_done_prefix(case):
    offsets, done_order = case
    tracker = PartitionTracker("t", 0)
    _track(tracker, offsets)
    done: set[int] = set()
    for offset in done_order:
        tracker.complete(offset)
        done.add(offset)
        prefix = 0
        while prefix < len(offsets) and offsets[prefix] in done:
            prefix += 1
        expected = offsets[prefix - 1] + 1 if prefix else None
        assert tracker.position == expected
        # Never past a message that is not done: that would lose it on a restart.
        if prefix < len(offsets):
            assert tracker.position is None or tracker.position <= offsets[prefix]
        assert len(tracker) == len(offsets) - prefix


def test_in_order_completion_moves_the_position_each_time_and_marks_it_dirty():
    tracker = PartitionTracker("t", 3)
    _track(tracker, [10, 11, 12])
    tracker.complete(10)
    assert (tracker.position, tracker.dirty) == (11, True)
    tracker.dirty = False
    tracker.complete(12)
    assert (tracker.position, tracker.dirty) == (11, False)
    tracker.complete(11)
    assert (tracker.position, len(tracker)) == (13, 0)


def test_highest_started_ignores_queued_messages():
    tracker = PartitionTracker("t", 0)
    _track(tracker, [5, 6, 7, 8])
    assert tracker.highest_started({7, 8}) == 6
    assert tracker.highest_started({5, 6, 7, 8}) == -1
    assert tracker.oldest_pending().offset == 5


def test_outstanding_counts_what_is_neither_done_nor_abandoned():
    tracker = PartitionTracker("t", 0)
    _track(tracker, [0, 1, 2, 3, 4])
    tracker.complete(2)
    tracker.abandon(3)
    assert tracker.outstanding() == 3          # 0, 1 and 4 may still settle here
    tracker.complete(0)
    tracker.complete(1)
    assert (tracker.position, tracker.outstanding()) == (3, 1)
    assert tracker.oldest_pending().offset == 3, "an abandoned offset is never committed"
