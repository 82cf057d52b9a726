"""The poll thread looks ids up while the done-marks thread's record is still out (its SADDs
and log entry applied in Redis, the reply not back yet): the lookup does not wait for it, it
already finds those ids done, and reading the record's own log entry before the record
returns raises no false "the log went back" alarm (which would re-read the whole log)."""

from __future__ import annotations

import logging
import threading

import pytest

from consumer.dedup import DedupSettings, DedupStore
from consumer.redis_conn import connect

pytestmark = pytest.mark.integration


def holding_record_replies(client, applied: threading.Event, release: threading.Event):
    """Pipelines that append to the log (a record's) run in Redis, then hold their reply."""
    make_pipeline = client.pipeline

    def pipeline(*args, **kwargs):
        pipe = make_pipeline(*args, **kwargs)
        execute = pipe.execute

        def held_execute(*eargs, **ekwargs):
            is_record = any(command[0] == "XADD" for command, _ in pipe.command_stack)
            replies = execute(*eargs, **ekwargs)
            if is_record:
                applied.set()
                assert release.wait(20), "the test never released the record's reply"
            return replies

        pipe.execute = held_execute
        return pipe

    client.pipeline = pipeline
    return client


def test_a_lookup_runs_while_a_record_round_trip_is_out(redis_url, unique, caplog):
    caplog.set_level(logging.WARNING, logger="consumer.dedup")
    applied, release = threading.Event(), threading.Event()
    client = holding_record_replies(connect(redis_url), applied, release)
    store = DedupStore(client, DedupSettings(group=f"overlap-{unique}", bloom_capacity=10_000))
    done = [f"order-{i}" for i in range(200)]
    fresh = [f"order-{i}" for i in range(200, 300)]
    assert store.seen(done + fresh) == [False] * 300

    recording = threading.Thread(target=store.record, args=(done,))
    recording.start()
    try:
        assert applied.wait(10)
        answers: list[list[bool]] = []
        lookup = threading.Thread(target=lambda: answers.append(store.seen(done + fresh)))
        lookup.start()
        lookup.join(5)
        assert not lookup.is_alive(), "the lookup waited for the record's round trip"
        assert answers == [[True] * 200 + [False] * 100]
    finally:
        release.set()
        recording.join(10)

    store.record(fresh[:10])
    assert store.seen(done + fresh) == [True] * 210 + [False] * 90
    assert not [r for r in caplog.records if "went back" in r.getMessage()]
    store.close()
    client.close()
