"""The broker freezes (SIGSTOP) mid-run while records keep arriving, and resumes (SIGCONT) after
longer than the group's session timeout: the consumer must ride it out. Its poll loop stays
alive (/healthz answers 200 throughout), and once the broker is back every record is handled,
duplicates are dropped, poison records are dead-lettered, offsets are committed to the end,
with exactly one handler call per good id and one effect per id in the idempotent sink.
The freeze outlasts the session timeout, so the member loses its partitions and reads what it
had not committed again: done marks in Redis keep good ids at one call each, while poison read
again is tried and dead-lettered again (at-least-once; reported as figures).

The broker is this test's own Tansu (the session's must not freeze under other tests); Tansu
keeps its data in memory, so it is frozen and resumed, never restarted.

SHORT: an 8 s freeze in a 3,000-id stream. LONG (``RELIABILITY=long``): a 20 s freeze in a
15,000-id stream.
"""

import random
import time

import pytest

from consumer.services import free_port
from tests.support.kafka import committed, create_topic, wait_for
from tests.support.members import probe
from tests.support.outcomes import Progress, letters_of, sink_rows, verify
from tests.support.own_services import freezable_broker
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import LiveLoad, PlannedProducer, ends_of, json_stream, poison_ids

IDS = sized(3_000, 15_000)
RATE_PER_S = 250
FREEZE_S = sized(8, 20)
PARTITIONS = 3
MAX_ATTEMPTS = 3

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(180, 420))]


def test_broker_frozen_then_resumed(redis_url, unique, tmp_path):
    topic, group = f"rel-freeze-{unique}", f"rel-freeze-{unique}"
    seed = random.randrange(1 << 30)
    stream = json_stream(IDS, duplicate_share=0.01, handler_poison=2, undecodable=2, keys=200,
                         seed=seed)
    record, sink, port = tmp_path / "record.txt", tmp_path / "sink.db", free_port()
    progress = Progress(record)
    with freezable_broker(tmp_path) as broker:
        create_topic(broker.bootstrap, topic, PARTITIONS)
        load = LiveLoad(PlannedProducer(broker.bootstrap, topic), stream, RATE_PER_S).start()
        proc = run_consumer(
            bootstrap=broker.bootstrap, topic=topic, group=group, record_file=record,
            log_file=tmp_path / "consumer.log", handler="tests.support.handlers:upsert",
            extra=["--value-format", "json", "--redis", redis_url, "--concurrency", "8",
                   "--max-attempts", str(MAX_ATTEMPTS), "--retry-backoff-ms", "100",
                   "--retry-backoff-max-ms", "400", "--metrics-port", str(port)],
            env={"SINK_DB": str(sink), "HANDLER_DELAY_S": "0.002",
                 "FAIL_IDS": ",".join(poison_ids(stream))})
        try:
            wait_for(lambda: progress.refresh() >= IDS // 5 or proc.poll() is not None, 90,
                     "work before the freeze")
            assert proc.poll() is None, f"the consumer exited with {proc.returncode}"
            broker.freeze()
            frozen_at, liveness = progress.refresh(), []
            thaw_at = time.monotonic() + FREEZE_S
            while time.monotonic() < thaw_at:
                liveness.append(probe(port, "/healthz"))
                time.sleep(0.5)
            done_while_frozen = progress.refresh() - frozen_at
            broker.thaw()
            thawed = time.monotonic()
            wait_for(lambda: progress.refresh() > frozen_at + done_while_frozen or
                     proc.poll() is not None, 90, "handling to resume after the thaw",
                     interval_s=0.05)
            resumed_s = time.monotonic() - thawed
            sent = load.finish(FREEZE_S + 120)
            ends = ends_of(sent)
            wait_for(lambda: committed(broker.bootstrap, group, topic, ends) == ends or
                     proc.poll() is not None, 180, f"the whole topic (seed {seed})",
                     interval_s=1.0)
            recovered_s = time.monotonic() - thawed
            assert proc.poll() is None, f"the consumer exited with {proc.returncode}"
            liveness.append(probe(port, "/healthz"))
            wait_for(lambda: probe(port, "/readyz") == 200, 30, "the consumer to be ready")
        finally:
            load.abort()
            code = stop(proc)
        assert code == 0, f"the consumer exited with {code}"
        letters = letters_of(broker.bootstrap, topic, PARTITIONS, sent)
    assert set(liveness) == {200}, f"/healthz answered {sorted(set(liveness))} during the freeze"
    log = (tmp_path / "consumer.log").read_text()
    lost = log.count("lost ")
    outcome = verify(sent, group=group, events=events(record), rows=sink_rows(sink),
                     letters=letters, max_attempts=MAX_ATTEMPTS, killed=False,
                     partitions_lost=lost > 0)
    report("broker frozen with SIGSTOP, then resumed", {
        "seed": seed,
        "records": f"{outcome.records} ({RATE_PER_S}/s while the test runs)",
        "distinct good ids": outcome.good_ids,
        "duplicate copies": outcome.duplicate_copies,
        "poison records": outcome.bad_records,
        "freeze": f"{FREEZE_S} s, after {frozen_at} ids were done",
        "ids done while frozen (from memory)": done_while_frozen,
        "/healthz while frozen": f"{liveness.count(200)} of {len(liveness)} probes 200",
        "assignments / times partitions were lost": f"{log.count('assigned ')} / {lost}",
        "thaw -> handling again": f"{resumed_s:.1f} s",
        "thaw -> all committed": f"{recovered_s:.1f} s (the live load goes on meanwhile)",
        "repeated handler calls (good ids)": outcome.repeated_calls,
        "handler calls of poison ids": f"{outcome.poison_calls} ({MAX_ATTEMPTS} per copy "
                                       "unless read again after a lost partition)",
        "dead letters": f"{outcome.dead_letters} ({outcome.repeated_letters} repeated)",
    })
