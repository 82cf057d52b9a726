"""SIGTERM mid-run: the process stops fetching, finishes what it started, commits, and exits 0
within --shutdown-timeout; a restart then handles no message a second time."""

import signal
import time

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import done_counts, events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.mark.parametrize("ordering", ["key", "unordered"])
def test_sigterm_commits_everything_finished(bootstrap, unique, tmp_path, ordering):
    topic, group = f"term-{unique}", f"term-{unique}"
    create_topic(bootstrap, topic, 3)
    ends = produce(bootstrap, topic, ((f"k{i % 50}".encode(), b"{}", None)
                                      for i in range(3000)))
    record = tmp_path / "record.txt"
    options = dict(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                   log_file=tmp_path / "consumer.log",
                   extra=["--value-format", "json", "--no-dedup", "--concurrency", "16",
                          "--ordering", ordering, "--shutdown-timeout", "20"],
                   env={"HANDLER_DELAY_S": "0.005"})
    first = run_consumer(**options)
    wait_for(lambda: len(events(record)) > 600, 60, "the first run to be mid-way")
    first.send_signal(signal.SIGTERM)
    began = time.monotonic()
    assert first.wait(30) == 0
    assert time.monotonic() - began < 20
    after_first = done_counts(record)
    assert 0 < len(after_first) < 3000, "SIGTERM should have come mid-run"
    started = {(e.partition, e.offset) for e in events(record) if e.kind == "start"}
    assert started == set(after_first), "a handler call started but did not finish"

    second = run_consumer(**options)
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "the rest")
    finally:
        assert stop(second) == 0
    counts = done_counts(record)
    assert len(counts) == 3000
    twice = [po for po, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} messages handled twice after a clean shutdown: {twice[:5]}"
