from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.histogram import SECONDS_BUCKETS, LocalHistogram

seconds = st.floats(min_value=0, max_value=200, allow_nan=False)


@given(st.lists(st.lists(seconds, max_size=40), max_size=6))
def test_counts_match_a_naive_count_whatever_the_batch_sizes(batches):
    histogram = LocalHistogram()
    for batch in batches:
        histogram.observe(batch)
    counts, total = histogram.snapshot()
    everything = [value for batch in batches for value in batch]
    edges = (-1.0, *SECONDS_BUCKETS, float("inf"))
    expected = [sum(1 for v in everything if low < v <= high)
                for low, high in pairwise(edges)]
    assert counts == expected
    assert total == pytest.approx(sum(everything))


def test_a_value_on_a_bound_counts_in_that_bucket_as_le_says():
    histogram = LocalHistogram((1.0, 2.0))
    histogram.observe([1.0])
    histogram.observe([2.0] * 10)
    assert histogram.snapshot()[0] == [1, 10, 0]


@pytest.mark.parametrize("size", [1, 20])
def test_negative_values_from_clock_skew_count_as_zero(size):
    histogram = LocalHistogram((1.0,))
    histogram.observe([-3.0] * size)
    histogram.observe([0.5])
    assert histogram.snapshot() == ([size + 1, 0], 0.5)


def test_data_point_carries_bounds_count_min_and_max():
    histogram = LocalHistogram((1.0, 2.0))
    histogram.observe([0.5, 3.0])
    point = histogram.data_point({"topic": "t"}, 1, 2)
    assert (point.count, point.min, point.max) == (2, 0.5, 3.0)
    assert list(point.bucket_counts) == [1, 0, 1]
    assert tuple(point.explicit_bounds) == (1.0, 2.0)


def test_bounds_must_increase():
    with pytest.raises(ValueError):
        LocalHistogram((2.0, 1.0))
