"""A fast handler with a small --max-buffered: the bound is reached again and again, and half
of it drains within moments. The poll loop stops taking records meanwhile but does not pause
fetching (a pause drops librdkafka's prefetched records, fetched again on resume: on every
peak that stalled the member for a fetch round trip); fetching pauses only when draining
takes a while (tests/integration/test_backpressure_bounds_memory.py)."""

import pytest

from consumer.services import free_port
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.metrics import sample, scrape
from tests.support.runner import done_counts, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MESSAGES = 20_000
BOUND = 300


def test_a_bound_reached_for_moments_never_pauses_fetching(bootstrap, unique, tmp_path):
    topic, group = f"brief-{unique}", f"brief-{unique}"
    create_topic(bootstrap, topic, 2)
    ends = produce(bootstrap, topic, ((f"k{i % 100}".encode(), b"{}", None)
                                      for i in range(MESSAGES)))
    port, log, record = free_port(), tmp_path / "consumer.log", tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=log,
                        extra=["--value-format", "json", "--no-dedup", "--max-buffered",
                               str(BOUND), "--metrics-port", str(port)])
    held = []
    try:
        def drained() -> bool:
            try:
                held.append(sample(scrape(port), "consumer_in_flight_messages", topic=topic) or 0)
            except OSError:   # the metrics server is not up yet
                return False
            return committed(bootstrap, group, topic, ends) == ends

        wait_for(drained, 120, "the topic to be drained")
    finally:
        assert stop(proc) == 0
    assert len(done_counts(record)) == MESSAGES
    assert max(held) <= BOUND
    assert "pausing" not in log.read_text().split("stopping")[0], \
        "fetching paused although the bound held only for moments"
