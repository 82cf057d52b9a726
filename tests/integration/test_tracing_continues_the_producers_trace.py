"""With OTEL_TRACES_EXPORTER=console, `consumer run` exports a span per message that continues
the W3C traceparent the producer put in the headers, with the message's coordinates."""

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode()


def test_a_span_per_message_continues_the_trace(bootstrap, unique, tmp_path):
    topic, group = f"trace-{unique}", f"trace-{unique}"
    create_topic(bootstrap, topic, 1)
    ends = produce(bootstrap, topic, [(b"k", b"{}", {"traceparent": TRACEPARENT,
                                                     "message-id": f"t{i}".encode()})
                                      for i in range(3)])
    log = tmp_path / "consumer.log"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group,
                        record_file=tmp_path / "record.txt", log_file=log,
                        extra=["--value-format", "json", "--no-dedup"],
                        env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "orders"})
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 60, "the topic")
    finally:
        assert stop(proc) == 0   # spans are flushed on the way out
    text = log.read_text()
    assert text.count(f'"trace_id": "0x{TRACE_ID}"') == 3
    assert text.count(f'"name": "process {topic}"') == 3
    for i in range(3):
        assert f'"messaging.message.id": "t{i}"' in text
