"""`consumer run --from-time T1 --until-time T2`: a bounded run under its own group that
handles exactly the records timestamped in [T1, T2], through the same pipeline, and exits 0."""

import time
from datetime import UTC, datetime

import pytest

from tests.support.kafka import committed, create_topic, produce
from tests.support.runner import events, run_consumer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_backfill_handles_exactly_the_range_and_exits(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"backfill-{unique}", f"daily-{unique}"
    create_topic(bootstrap, topic, 3)
    base_ms = (int(time.time()) - 3600) * 1000
    ends = produce(bootstrap, topic, ((f"k{i % 7}".encode(), b"{}",
                                       {"message-id": f"m{i}".encode()}) for i in range(600)),
                   timestamp_ms=lambda i: base_ms + i * 1000)
    t1 = datetime.fromtimestamp((base_ms + 200_000) / 1000, UTC).isoformat()  # ISO-8601
    t2 = str(base_ms + 399_000)                                                # epoch ms
    record = tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "backfill.log",
                        extra=["--value-format", "json", "--redis", redis_url,
                               "--from-time", t1, "--until-time", t2])
    try:
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    handled = sorted(int(e.message_id[1:]) for e in events(record) if e.kind == "done")
    assert handled == list(range(200, 400))
    assert "backfill done" in (tmp_path / "backfill.log").read_text()
    assert set(committed(bootstrap, group, topic, ends).values()) == {-1001}, \
        "the daily group must be left alone"
