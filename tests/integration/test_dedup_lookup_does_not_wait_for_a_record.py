"""The poll thread looks ids up while the done-marks thread's record is still out (its done
marks and log entry applied in Redis, the reply not back yet): the lookup does not wait for it, it
already finds those ids done, and reading the record's own log entry before the record
returns raises no false "the log went back" alarm (which would re-read the whole log)."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from consumer.dedup import DedupSettings, DedupStore
from consumer.redis_conn import connect

pytestmark = pytest.mark.integration


def hold_record_replies(monkeypatch, applied: threading.Event, release: threading.Event):
    """Round trips that append to the log (a record's) run in Redis, then hold their reply."""
    execute = redis.client.Pipeline.execute

    def held_execute(pipe, raise_on_error=True):
        appends = any(args[0] == "XADD" for args, _options in pipe.command_stack)
        replies = execute(pipe, raise_on_error)
        if appends:
            applied.set()
            assert release.wait(20), "the test never released the record's reply"
        return replies

    monkeypatch.setattr(redis.client.Pipeline, "execute", held_execute)


def test_a_lookup_runs_while_a_record_round_trip_is_out(redis_url, unique, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="consumer.dedup")
    applied, release = threading.Event(), threading.Event()
    hold_record_replies(monkeypatch, applied, release)
    client = connect(redis_url)
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
