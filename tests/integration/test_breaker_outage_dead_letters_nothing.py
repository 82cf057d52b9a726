"""A 20 s outage of the dependency a handler calls through a circuit breaker, with 5,000
messages flowing: the breaker opens, the runtime stops dispatching and pauses fetching instead
of burning attempts, nothing is dead-lettered, and after recovery every message is processed
exactly once."""

import time
from collections.abc import Iterator

import pytest

from consumer.services import free_port
from tests.support.dlq import read_topic
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.metrics import sample, scrape
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OUTAGE_S = 20


def orders(ids: range) -> Iterator[tuple[bytes, bytes, dict[str, bytes]]]:
    return ((f"k{i % 200}".encode(), b"{}", {"message-id": f"m{i}".encode()}) for i in ids)


def test_outage_behind_a_breaker_pauses_and_dead_letters_nothing(bootstrap, redis_url, unique,
                                                                  tmp_path):
    topic, group = f"outage-{unique}", f"outage-{unique}"
    create_topic(bootstrap, topic, 4)
    ends = produce(bootstrap, topic, orders(range(2000)))
    config = tmp_path / "consumer.toml"
    config.write_text("[breakers.downstream]\nfailure_rate = 0.5\nwindow = 20\nmin_calls = 10\n"
                      "open_s = 2\nhalf_open_calls = 2\n")
    down, record, port = tmp_path / "down", tmp_path / "record.txt", free_port()
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        handler="tests.support.handlers:guarded",
                        extra=["--config", str(config), "--value-format", "json", "--redis",
                               redis_url, "--max-attempts", "2", "--metrics-port", str(port),
                               "--retry-backoff-ms", "100", "--retry-backoff-max-ms", "1000"],
                        env={"DOWNSTREAM_DOWN_FILE": str(down), "HANDLER_DELAY_S": "0"})
    states, paused = set(), 0
    try:
        wait_for(lambda: len(events(record)) > 1000, 60, "traffic before the outage")
        wait_for(lambda: sample(scrape(port), "consumer_circuit_breaker_state",
                                breaker="downstream") == 0.0, 10, "the breaker to show closed")
        down.touch()
        outage_ends = time.monotonic() + OUTAGE_S
        done_at_outage = len(events(record))
        # The rest arrives during the outage: handlers drain 2,000 messages in well under a
        # second, so traffic produced beforehand may all be done before the dependency fails.
        ends = {**ends, **produce(bootstrap, topic, orders(range(2000, 5000)))}
        while time.monotonic() < outage_ends:
            text = scrape(port)
            states.add(sample(text, "consumer_circuit_breaker_state", breaker="downstream"))
            paused = max(paused, sample(text, "consumer_paused_partitions", topic=topic) or 0)
            time.sleep(0.25)
        handled_during_outage = len(events(record)) - done_at_outage
        down.unlink()
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "recovery")
        final_state = sample(scrape(port), "consumer_circuit_breaker_state", breaker="downstream")
        dead_lettered = sample(scrape(port), "consumer_messages_total", topic=topic,
                               outcome="dead_lettered")
    finally:
        assert stop(proc) == 0

    assert 2.0 in states, "the breaker never showed open"
    assert paused >= 1, "fetching should pause while the breaker is open"
    assert handled_during_outage < 50, "handlers kept succeeding through an outage?"
    assert final_state == 0.0 and dead_lettered == 0.0
    assert read_topic(bootstrap, f"{topic}.dlq", 4, expect=0, quiet_s=2) == []
    done = [e.message_id for e in events(record) if e.kind == "done"]
    assert sorted(done) == sorted(f"m{i}" for i in range(5000)), "each message exactly once"
