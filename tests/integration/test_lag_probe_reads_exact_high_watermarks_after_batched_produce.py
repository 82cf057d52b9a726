"""On Tansu, ListOffsets is wrong after multi-record produce batches; the lag must still match
the end offsets the producer's delivery reports gave."""

from __future__ import annotations

import time

import pytest

from consumer.lag import LagProbe
from tests.support.lag_setup import create_topic, produce_batched

pytestmark = pytest.mark.integration


def test_lag_in_messages_and_seconds_matches_what_was_produced(bootstrap, unique):
    topic = f"lag-probe-{unique}"
    create_topic(bootstrap, topic, 3)
    now_ms = int(time.time() * 1000)
    # Partition 0: the oldest not-done record (offset 4) is five minutes old.
    ends = produce_batched(bootstrap, topic, {
        0: [now_ms - 600_000 + i * 60_000 for i in range(10)],
        1: [now_ms] * 5,
        2: [now_ms - 30_000] * 6,
    })
    committed = {(topic, 0): 4, (topic, 1): 5, (topic, 2): None}
    with LagProbe(bootstrap) as probe:
        first = {lag.partition: lag for lag in probe.measure(committed)}
        assert {p: lag.high_watermark for p, lag in first.items()} == ends
        assert first[0].lag_messages == ends[0] - 4
        assert first[0].lag_seconds == pytest.approx(360, abs=20)
        assert (first[1].lag_messages, first[1].lag_seconds) == (0, 0.0)
        assert (first[2].committed, first[2].lag_messages) == (None, ends[2])
        assert first[2].lag_seconds == pytest.approx(30, abs=20)

        more = produce_batched(bootstrap, topic, {1: [now_ms] * 3})
        again = {lag.partition: lag for lag in probe.measure(committed)}
        assert again[1].high_watermark == more[1]
        assert again[1].lag_messages == 3
