"""The pre-start step asks Redis once per batch: dedup's screen and the crash ledger's record of
what starts travel in one pipeline, and the record takes in the copies the screen drops."""

from types import SimpleNamespace

import pytest

from consumer.dedup import DedupSettings, DedupStore
from consumer.duplicates import DuplicateFilter
from consumer.ledger import AttemptLedger
from consumer.prestart import Prestart
from consumer.recovery import Recovery
from consumer.redis_breaker import RedisBreaker
from consumer.redis_conn import connect

pytestmark = pytest.mark.integration


def test_the_screen_and_the_record_of_a_batch_take_one_round_trip(redis_url, unique):
    client, breaker, group = connect(redis_url), RedisBreaker("redis"), f"prestart-{unique}"
    store = DedupStore(client, DedupSettings(group=group), breaker=breaker)
    store.record(["order-2"])                       # finished before, by some member
    ledger = AttemptLedger(client, group, "orders", breaker)
    prestart = Prestart(DuplicateFilter(store, keep_going_without_redis=False),
                        Recovery(ledger, max_attempts=3), keep_going_without_redis=False)
    batch = [SimpleNamespace(message_id=f"order-{n}", partition=0, offset=40 + n, batch=None,
                             attempt=1) for n in (1, 2, 3)]

    def roundtrips() -> int:
        return store.counters.redis_roundtrips + ledger.roundtrips

    before = roundtrips()
    assert prestart(batch) == [False, True, False]
    assert roundtrips() - before == 1
    assert ledger.load(0) == ({}, {41, 42, 43})
    assert all(m.batch is batch[0].batch and m.batch.left == 3 for m in batch)

