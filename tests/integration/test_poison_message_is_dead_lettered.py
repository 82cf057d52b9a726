"""A handler bug on one message: it is tried exactly --max-attempts times, then dead-lettered
with every dlq.* header filled, while messages of other keys keep flowing. A record that is not
valid data is dead-lettered on its first attempt."""

import socket

import pytest

from consumer.dlq import parse_dead_letter
from tests.support.dlq import read_topic
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_poison_goes_to_the_dead_letter_topic_after_max_attempts(bootstrap, redis_url, unique,
                                                                   tmp_path):
    topic, group = f"poison-{unique}", f"poison-{unique}"
    create_topic(bootstrap, topic, 2)
    records = [(f"k{i % 30}".encode(), b'{"n": %d}' % i, {"message-id": f"m{i}".encode()})
               for i in range(400)]
    records[40] = (b"k10", b'{"n": 40}', {"message-id": b"poison", "trace": b"kept"})
    records[41] = (b"k11", b"\xff not json", {"message-id": b"garbage"})
    ends = produce(bootstrap, topic, records)
    record = tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        extra=["--value-format", "json", "--redis", redis_url,
                               "--max-attempts", "3", "--retry-backoff-ms", "400",
                               "--retry-backoff-max-ms", "800"],
                        env={"FAIL_IDS": "poison", "HANDLER_DELAY_S": "0.005"})
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "everything")
    finally:
        assert stop(proc) == 0

    log = events(record)
    poison_starts = [e for e in log if e.message_id == "poison" and e.kind == "start"]
    assert len(poison_starts) == 3, "exactly --max-attempts attempts"
    others_during = [e for e in log if e.kind == "done" and e.key != "k10"
                     and poison_starts[0].at < e.at < poison_starts[-1].at]
    assert len(others_during) > 20, "other keys should flow while the poison is retried"
    same_key_after = [e.offset for e in log if e.kind == "start" and e.key == "k10"
                      and e.partition == poison_starts[0].partition
                      and e.offset > poison_starts[0].offset]
    assert all(e.at > poison_starts[-1].at for e in log if e.kind == "start"
               and e.offset in same_key_after and e.key == "k10"), \
        "later messages of the poison's key must wait behind it"
    done_ids = {e.message_id for e in log if e.kind == "done"}
    assert done_ids == {f"m{i}" for i in range(400)} - {"m40", "m41"}

    letters = {}
    for raw in read_topic(bootstrap, f"{topic}.dlq", 2, expect=2):
        letter = parse_dead_letter(raw)
        letters[letter.message_id] = letter
    assert set(letters) == {"poison", "garbage"}
    poison = letters["poison"]
    assert (poison.category, poison.attempts) == ("handler", 3)
    assert poison.error_class == "builtins.RuntimeError"
    assert "handler bug on poison" in poison.error_message
    assert "RuntimeError" in poison.stacktrace and "handlers.py" in poison.stacktrace
    assert (poison.original_topic, poison.consumer_group) == (topic, group)
    assert poison.original_offset == poison_starts[0].offset
    assert poison.original_partition == poison_starts[0].partition
    assert poison.original_timestamp_ms and poison.first_failure_ms and poison.last_failure_ms
    assert poison.first_failure_ms < poison.last_failure_ms
    assert poison.host == socket.gethostname()
    assert (poison.key, poison.value) == (b"k10", b'{"n": 40}')
    assert ("trace", b"kept") in poison.headers and ("message-id", b"poison") in poison.headers
    garbage = letters["garbage"]
    assert (garbage.category, garbage.attempts) == ("data", 1)
    assert garbage.error_class == "consumer.errors.DecodeError"
    assert garbage.value == b"\xff not json"
