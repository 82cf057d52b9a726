"""--ordering key (the default): for every key, handler calls happen in offset order, while
calls for different keys overlap in time, measured from the handler's own start/done lines."""

import pytest

from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.mark.parametrize("handler", ["record", "record_async"])
def test_each_key_in_offset_order_while_keys_overlap(bootstrap, unique, tmp_path, handler):
    topic, group = f"keys-{unique}", f"keys-{unique}"
    create_topic(bootstrap, topic, 2)
    keys = 20
    ends = produce(bootstrap, topic, ((f"k{i % keys}".encode(), b"{}", None)
                                      for i in range(600)))
    record = tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        handler=f"tests.support.handlers:{handler}",
                        extra=["--value-format", "json", "--no-dedup", "--concurrency", "16"],
                        env={"HANDLER_DELAY_S": "0.01"})
    try:
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 90, "the whole topic")
    finally:
        assert stop(proc) == 0

    log = events(record)
    by_key: dict[str, list] = {}
    for event in log:
        by_key.setdefault(event.key, []).append(event)
    for key, key_events in by_key.items():
        # Within a key: start, done, start, done... and offsets increasing.
        kinds = [e.kind for e in key_events]
        assert kinds == ["start", "done"] * (len(kinds) // 2), f"calls of {key} overlapped"
        offsets = [e.offset for e in key_events if e.kind == "start"]
        assert offsets == sorted(offsets), f"{key} out of offset order"

    # Across keys: how many calls were running at once, from the start/done lines.
    running = peak = 0
    for event in sorted(log, key=lambda e: (e.at, e.kind == "start")):
        running += 1 if event.kind == "start" else -1
        peak = max(peak, running)
    print(f"{handler}: peak concurrent handler calls across keys: {peak}")
    assert peak >= 8, f"different keys should overlap (peak {peak} of concurrency 16)"
