"""The windowed Bloom filter: no false negatives within the retention, bounded memory, and
snapshots that restore exactly what was saved."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.bloom import SnapshotMismatch, WindowedBloom
from consumer.errors import ConfigError

KEYS = st.integers(min_value=0, max_value=2**63 - 1)   # bloom_key is 63 bits


@settings(max_examples=60, deadline=None)
@given(added=st.lists(KEYS, max_size=300), others=st.lists(KEYS, max_size=300))
def test_every_added_key_is_reported_and_the_rest_mostly_not(added, others):
    bloom = WindowedBloom(1000, 0.001, retention_s=60, now=0)
    bloom.add(added)
    assert all(bloom.maybe_flags(added))
    assert all(bloom.might_contain(key) for key in added)
    strangers = [key for key in others if key not in set(added)]
    assert sum(bloom.maybe_flags(strangers)) <= max(3, len(strangers) // 50)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0, 50), st.lists(KEYS, max_size=5)), max_size=30))
def test_keys_stay_for_at_least_the_retention_after_they_were_added(steps):
    retention = 60.0
    bloom = WindowedBloom(1000, 0.001, retention_s=retention, now=0)
    now = 0.0
    added_at: list[tuple[float, int]] = []
    for advance, keys in steps:
        now += advance
        bloom.rotate(now)
        bloom.add(keys)
        added_at += [(now, key) for key in keys]
        for when, key in added_at:
            if now - when < retention:
                assert bloom.might_contain(key)


def test_memory_stays_at_two_generations_and_old_keys_leave():
    bloom = WindowedBloom(1000, 0.001, retention_s=10, now=0)
    single = bloom.bits
    bloom.add([1])
    for now in range(0, 100, 3):
        bloom.rotate(now)
        bloom.add([now + 1000])
        assert bloom.bits <= 2 * single
    assert not bloom.might_contain(1)


def test_a_long_idle_drops_both_generations():
    bloom = WindowedBloom(1000, 0.001, retention_s=10, now=0)
    bloom.add([7])
    bloom.rotate(25)
    assert bloom.generation_starts == [25]
    assert not bloom.might_contain(7)


def test_a_snapshot_restores_keys_and_timing():
    bloom = WindowedBloom(5000, 0.01, retention_s=10, now=0)
    bloom.add(range(100))
    bloom.rotate(12)
    bloom.add(range(100, 200))
    restored = WindowedBloom.from_bytes(bloom.to_bytes(), 5000, 0.01, retention_s=10)
    assert restored.generation_starts == [0, 12]
    assert all(restored.maybe_flags(list(range(200))))
    restored.rotate(23)
    bloom.rotate(23)
    assert restored.maybe_flags(list(range(200))) == bloom.maybe_flags(list(range(200)))
    assert sum(restored.maybe_flags(list(range(100)))) <= 3   # the first generation is gone


@pytest.mark.parametrize("capacity, error_rate", [(10_000, 0.01), (5000, 0.02)])
def test_a_snapshot_of_other_settings_is_refused(capacity, error_rate):
    blob = WindowedBloom(5000, 0.01, retention_s=10, now=0).to_bytes()
    with pytest.raises(SnapshotMismatch):
        WindowedBloom.from_bytes(blob, capacity, error_rate, retention_s=10)


@pytest.mark.parametrize("damage", [lambda b: b[:3], lambda b: b[:-1], lambda b: b + b"x",
                                    lambda b: b"\x09" + b[1:], lambda b: b""])
def test_a_damaged_snapshot_is_refused_not_a_crash(damage):
    blob = WindowedBloom(5000, 0.01, retention_s=10, now=0).to_bytes()
    with pytest.raises(SnapshotMismatch):
        WindowedBloom.from_bytes(damage(blob), 5000, 0.01, retention_s=10)


def test_absorb_keeps_both_filters_keys_on_the_other_ones_schedule():
    mine = WindowedBloom(1000, 0.001, retention_s=10, now=0)
    mine.add([1, 2])
    mine.rotate(11)
    mine.add([3])
    snapshot = WindowedBloom(1000, 0.001, retention_s=10, now=5)
    snapshot.add([4])
    mine.absorb(snapshot)
    assert mine.generation_starts == [5]
    assert all(mine.maybe_flags([1, 2, 3, 4]))
    mine.rotate(14)
    assert all(mine.maybe_flags([1, 2, 3, 4]))         # moved keys are kept, never dropped early


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        WindowedBloom(0, 0.01, retention_s=10, now=0)
    with pytest.raises(SnapshotMismatch):
        WindowedBloom(10, 0.01, 10, now=0).absorb(WindowedBloom(20, 0.01, 10, now=0))
