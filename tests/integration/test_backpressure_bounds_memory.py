"""A slow handler behind a backlog ten times --max-buffered: the messages held in memory never
exceed the bound, the poll loop keeps the member in the group although draining takes longer
than max.poll.interval.ms, and resident memory stays flat."""

import time

import pytest

from consumer.services import free_port
from tests.support.kafka import committed, create_topic, produce
from tests.support.metrics import rss_kib, sample, scrape
from tests.support.runner import run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BOUND = 1000


def test_slow_handler_with_a_backlog_ten_times_the_bound(bootstrap, unique, tmp_path):
    topic, group = f"bp-{unique}", f"bp-{unique}"
    create_topic(bootstrap, topic, 2)
    ends = produce(bootstrap, topic, ((f"k{i}".encode(), b'{"pad": "%s"}' % (b"x" * 2000), None)
                                      for i in range(10 * BOUND)))
    port = free_port()
    log = tmp_path / "consumer.log"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group,
                        record_file=tmp_path / "record.txt", log_file=log,
                        extra=["--value-format", "json", "--no-dedup", "--concurrency", "20",
                               "--max-buffered", str(BOUND), "--metrics-port", str(port),
                               # Draining takes ~12 s: twice the poll interval allowed.
                               "-X", "max.poll.interval.ms=6000",
                               # librdkafka's own prefetch is bounded apart (a few MB): small
                               # here, so what the runtime holds is what RSS shows.
                               "-X", "queued.max.messages.kbytes=2048"],
                        env={"HANDLER_DELAY_S": "0.02"})
    held, rss, paused_seen = [], [], 0
    started = time.monotonic()
    try:
        while committed(bootstrap, group, topic, ends) != ends:
            assert time.monotonic() - started < 120, "the backlog was not drained"
            assert proc.poll() is None, "the consumer died"
            try:
                text = scrape(port)
            except OSError:
                time.sleep(0.2)
                continue
            in_memory = sample(text, "consumer_in_flight_messages", topic=topic)
            if in_memory is not None:
                held.append(in_memory)
            paused_seen = max(paused_seen, sample(text, "consumer_paused_partitions") or 0)
            rss.append(rss_kib(proc.pid))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    print(f"drained in {elapsed:.1f}s; peak held {max(held):.0f}/{BOUND}; "
          f"RSS (MiB, every 10th sample) {[r // 1024 for r in rss[::10]]}")
    assert max(held) <= BOUND
    assert max(held) >= BOUND // 2, "the bound was never approached: the test proves nothing"
    assert paused_seen >= 1, "fetching should have paused at the bound"
    assert elapsed > 6, "draining should outlast max.poll.interval.ms"
    assert text.count("assigned") == 1 and "lost" not in text, "the member left the group"
    assert "revoking" not in text.split("stopping")[0], "a rebalance happened mid-run"
    # Flat: once warm (the first third), the rest of the backlog flowing through never needs
    # more memory than the middle of the run did (a leak or an unbounded queue would).
    third = len(rss) // 3
    assert max(rss[2 * third:]) <= max(rss[third:2 * third]) + 4 * 1024, f"RSS grew: {rss[::10]}"
