"""The registry goes away while records written with a schema the consumer has not fetched yet
arrive: that is not bad data. The partition waits (fetching pauses), nothing is dead-lettered,
and once the registry answers again every record is handled, in order."""

import time

import pytest

from consumer import services
from consumer.avro_codec import AvroEncoder
from consumer.registry_client import RegistryClient
from consumer.services import free_port
from tests.support.dlq import read_topic
from tests.support.kafka import committed, create_topic, produce, wait_for
from tests.support.metrics import sample, scrape
from tests.support.orders import SCHEMAS, order_v1, order_v2, schema
from tests.support.runner import events, run_consumer, stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

OUTAGE_S = 8


def start_registry(port: int, data, log):
    proc = services.spawn(services.registry_command(port, data), log)
    url = f"http://{services.LOOPBACK}:{port}"
    services.wait_until(lambda: services.registry_answers(url), 20, "registry", proc)
    return proc, url


def test_records_wait_for_the_registry_instead_of_being_dead_lettered(bootstrap, redis_url,
                                                                        unique, tmp_path):
    topic, subject, group = f"regout-{unique}", f"regout-{unique}-value", f"regout-{unique}"
    create_topic(bootstrap, topic, 1)
    port = free_port()
    registry, url = start_registry(port, tmp_path / "registry.db", tmp_path / "registry.log")
    with RegistryClient(url) as client:
        v1, v2 = (AvroEncoder(client.register(subject, (SCHEMAS / f"orders-v{v}.avsc")
                                              .read_text()).schema_id, schema(v))
                  for v in (1, 2))
    produce(bootstrap, topic, [(b"k", v1.encode(order_v1(n)), None) for n in range(50)])
    record, metrics_port = tmp_path / "record.txt", free_port()
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        extra=["--registry", url, "--redis", redis_url,
                               "--metrics-port", str(metrics_port)])
    try:
        wait_for(lambda: len(events(record)) >= 100, 60, "the v1 records")
        registry.terminate()
        registry.wait(10)
        ends = produce(bootstrap, topic, [(b"k", v2.encode(order_v2(n)), None)
                                          for n in range(50, 120)])
        paused = 0.0
        outage_ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_ends:
            paused = max(paused, sample(scrape(metrics_port), "consumer_paused_partitions",
                                        topic=topic) or 0)
            time.sleep(0.25)
        handled_during_outage = sum(e.kind == "done" for e in events(record)) - 50
        registry, _ = start_registry(port, tmp_path / "registry.db", tmp_path / "registry.log")
        wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 60, "recovery")
    finally:
        assert stop(proc) == 0
        registry.terminate()
    assert handled_during_outage == 0 and paused == 1.0
    offsets = [e.offset for e in events(record) if e.kind == "done"]
    assert offsets == list(range(120)), "every record handled once, in order"
    assert read_topic(bootstrap, f"{topic}.dlq", 1, expect=0, quiet_s=2) == []
