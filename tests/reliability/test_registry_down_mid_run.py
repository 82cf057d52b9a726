"""The schema registry is down mid-run while records keep arriving, some written with a schema
the consumer has not fetched yet (orders-v2) and some naming a schema id that does not exist.
Neither is bad data while the registry cannot answer: those partitions wait, in order (fetching
pauses), and nothing is dead-lettered for it. The poll loop stays alive (/healthz 200). Once the
registry is back, every good record is handled exactly once (one effect per id), the records
with an unknown schema id are dead-lettered as such, and the other bad records (wrong magic
byte, truncated Avro, a handler bug) as theirs.

SHORT: down 6 s, 1,200 records. LONG (``RELIABILITY=long``): down 20 s, 10,000 records.
"""

import random
import time
from dataclasses import replace

import pytest

from consumer.services import free_port
from tests.support.avro_records import OrderEncoders
from tests.support.kafka import committed, create_topic, wait_for
from tests.support.members import probe
from tests.support.metrics import sample, scrape
from tests.support.outcomes import Progress, dead_letters, letters_of, sink_rows, verify
from tests.support.own_services import restartable_registry
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import (
    HANDLER_POISON,
    Planned,
    Sent,
    ends_of,
    poison_ids,
    produce_planned,
)

BEFORE = sized(600, 5_000)     # v1 orders handled before the outage
DURING = sized(600, 5_000)     # produced while the registry is down
OUTAGE_S = sized(6, 20)
PARTITIONS = 3
MAX_ATTEMPTS = 3

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(120, 300))]


def outage_stream(orders: OrderEncoders, rnd: random.Random) -> list[Planned]:
    """v1 and v2 orders mixed, and a few bad records of each kind."""
    stream = [orders.good_v2(n) if rnd.random() < 0.5 else orders.good_v1(n)
              for n in range(BEFORE, BEFORE + DURING)]
    poisoned = rnd.sample(range(len(stream)), 3)
    for index in poisoned:
        stream[index] = replace(stream[index], bad=HANDLER_POISON, label="handler poison")
    bad = [orders.unknown_schema(n) for n in range(4)] + \
          [orders.wrong_magic(n) for n in range(4, 7)] + \
          [orders.truncated(n, rnd) for n in range(7, 10)]
    for record in bad:
        stream.insert(rnd.randrange(len(stream) + 1), record)
    return stream


def test_registry_down_mid_run(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"rel-registry-{unique}", f"rel-registry-{unique}"
    create_topic(bootstrap, topic, PARTITIONS)
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    record, sink, port = tmp_path / "record.txt", tmp_path / "sink.db", free_port()
    progress = Progress(record)
    with restartable_registry(tmp_path) as registry:
        orders = OrderEncoders.register(registry.url, f"{topic}-value")
        later = outage_stream(orders, rnd)
        sent: list[Sent] = produce_planned(bootstrap, topic,
                                           [orders.good_v1(n) for n in range(BEFORE)])
        proc = run_consumer(
            bootstrap=bootstrap, topic=topic, group=group, record_file=record,
            log_file=tmp_path / "consumer.log", handler="tests.support.handlers:upsert",
            extra=["--registry", registry.url, "--redis", redis_url, "--concurrency", "8",
                   "--max-attempts", str(MAX_ATTEMPTS), "--retry-backoff-ms", "100",
                   "--retry-backoff-max-ms", "400", "--metrics-port", str(port)],
            env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.002",
                 "FAIL_IDS": ",".join(poison_ids(later))})
        try:
            wait_for(lambda: progress.refresh() >= BEFORE or proc.poll() is not None, 90,
                     "the orders before the outage")
            registry.stop()
            down_at = time.monotonic()
            sent += produce_planned(bootstrap, topic, later)
            ends = ends_of(sent)
            paused, liveness = 0.0, []
            while time.monotonic() < down_at + OUTAGE_S:
                paused = max(paused, sample(scrape(port), "consumer_paused_partitions",
                                            topic=topic) or 0)
                liveness.append(probe(port, "/healthz"))
                time.sleep(0.25)
            v2_during = {e.message_id for e in events(record)} & \
                        {s.message_id for s in sent if s.planned.label == "good v2"}
            letters_during = dead_letters(bootstrap, f"{topic}.dlq", PARTITIONS, 0)
            registry.start()
            wait_for(lambda: committed(bootstrap, group, topic, ends) == ends or
                     proc.poll() is not None, 90, f"the whole topic (seed {seed})",
                     interval_s=1.0)
            assert proc.poll() is None, f"the consumer exited with {proc.returncode}"
        finally:
            code = stop(proc)
    assert code == 0, f"the consumer exited with {code}"
    assert not v2_during, f"{len(v2_during)} orders-v2 records handled without the registry"
    needs_registry = {s.message_id for s in sent
                      if s.planned.label in ("good v2", "unknown schema id")}
    waiting_lettered = [(letter.message_id, letter.error_class) for letter in letters_during
                        if letter.message_id in needs_registry]
    assert not waiting_lettered, f"dead-lettered while the registry was down: {waiting_lettered}"
    assert paused >= 1, "no partition waited for the registry"
    assert set(liveness) == {200}, f"/healthz answered {sorted(set(liveness))} during the outage"
    outcome = verify(sent, group=group, events=events(record), rows=sink_rows(sink),
                     letters=letters_of(bootstrap, topic, PARTITIONS, sent),
                     max_attempts=MAX_ATTEMPTS, killed=False)
    report("registry down mid-run", {
        "seed": seed,
        "records": f"{outcome.records} ({BEFORE} before the outage, {len(later)} during it)",
        "good ids": outcome.good_ids,
        "outage": f"{OUTAGE_S} s",
        "handled during the outage": f"{len(v2_during)} of the v2 records",
        "paused partitions during the outage (max)": int(paused),
        "/healthz during the outage": f"{liveness.count(200)} of {len(liveness)} probes 200",
        "dead letters during the outage": f"{len(letters_during)} (bad data the registry "
                                          "was not needed for)",
        "dead letters": f"{outcome.dead_letters} for {outcome.bad_records} bad records",
        "repeated handler calls (good ids)": outcome.repeated_calls,
        "handler calls of poison ids": f"{outcome.poison_calls} ({MAX_ATTEMPTS} per copy)",
    })
