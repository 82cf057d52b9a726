"""Hostile input on an Avro topic: random bytes, empty and null values, truncated Avro, a wrong
magic byte, an unknown schema id, 5 MB values, invalid UTF-8 in keys, header values and
message ids, forged ``dlq.*`` headers, then hypothesis-generated records (valid orders, bodies
behind a valid wire header, arbitrary bytes). One consumer takes all of it: every bad record is
dead-lettered with its reason (category ``data``, the error class the wire format calls for,
its true original partition and offset, its key, value and headers unchanged), every good one
is handled exactly once with one effect in the idempotent sink, and the process neither
crashes nor hangs (/healthz 200, exit status 0 on SIGTERM).

What must become of each value is worked out independently, by reading it with fastavro
against the registered schemas (tests/support/hostile.py: Oracle).

An order dated after year 9999 is valid Avro that Python's datetime cannot hold: it is handled,
its timestamp given as the underlying long.

SHORT: the catalogue and 25 hypothesis examples. LONG (``RELIABILITY=long``): the catalogue
and 300 examples.
"""

import itertools
import random

import pytest
from confluent_kafka.admin import AdminClient
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.services import free_port
from tests.support.avro_records import OrderEncoders
from tests.support.hostile import (
    BIG_LIMIT_BYTES,
    Oracle,
    catalogue,
    colliding_ids,
    create_big_record_topic,
    records,
    unreadable_header_name,
)
from tests.support.kafka import committed, create_topic, wait_for
from tests.support.members import probe
from tests.support.orders import order_v2, schema
from tests.support.outcomes import LetterWatch, Progress, sink_rows, verify
from tests.support.own_services import restartable_registry
from tests.support.raw_produce import produce_raw
from tests.support.runner import events, run_consumer, stop
from tests.support.scale import report, sized
from tests.support.streams import (
    Planned,
    PlannedProducer,
    Sent,
    data_error,
    ends_of,
    produce_planned,
)

EXAMPLES = sized(25, 300)
PARTITIONS = 3
MAX_ATTEMPTS = 2

pytestmark = [pytest.mark.integration, pytest.mark.reliability,
              pytest.mark.timeout(sized(200, 900))]


class Outcomes:
    """What became of the records sent so far: handled, or dead-lettered."""

    def __init__(self, progress: Progress, letters: LetterWatch, consumer) -> None:
        self.progress, self.letters, self.consumer = progress, letters, consumer

    def settle(self, sent: list[Sent], timeout_s: float = 60) -> None:
        """Waits until each record was handled or dead-lettered, then checks it went the way
        it had to."""
        def outstanding() -> list[Sent]:
            self.progress.refresh()
            lettered = self.letters.refresh()
            return [s for s in sent if s.position not in self.progress.done_positions
                    and s.position not in lettered]

        try:
            wait_for(lambda: not outstanding() or self.consumer.poll() is not None, timeout_s,
                     "an outcome for every record", interval_s=0.05)
        except AssertionError:
            left = outstanding()
            raise AssertionError(f"{len(left)} records neither handled nor dead-lettered after "
                                 f"{timeout_s}s: {sorted({s.planned.label for s in left})}"
                                 ) from None
        assert self.consumer.poll() is None, f"the consumer exited with {self.consumer.returncode}"
        for record in sent:
            letters = self.letters.by_origin.get(record.position, [])
            want = record.planned.bad
            if want is None:
                assert not letters, f"{record.planned.label} dead-lettered: " \
                                    f"{letters[0].error_class}: {letters[0].error_message}"
            else:
                assert letters, f"{record.planned.label} handled instead of dead-lettered"
                assert letters[0].error_class in want.error_classes, \
                    f"{record.planned.label}: {letters[0].error_class}: " \
                    f"{letters[0].error_message}"


def wait_for_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wait_for(lambda: topic in admin.list_topics(timeout=5).topics, 30, f"topic {topic}")


def test_hostile_input(bootstrap, redis_url, unique, tmp_path):
    topic, group = f"rel-hostile-{unique}", f"rel-hostile-{unique}"
    create_big_record_topic(bootstrap, topic, PARTITIONS)
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    record, sink, port = tmp_path / "record.txt", tmp_path / "sink.db", free_port()
    limit = str(BIG_LIMIT_BYTES)
    with restartable_registry(tmp_path) as registry:
        orders = OrderEncoders.register(registry.url, f"{topic}-value")
        oracle = Oracle({orders.v1.schema_id: schema(1), orders.v2.schema_id: schema(2)})
        sender = PlannedProducer(bootstrap, topic, {"message.max.bytes": BIG_LIMIT_BYTES})
        proc = run_consumer(
            bootstrap=bootstrap, topic=topic, group=group, record_file=record,
            log_file=tmp_path / "consumer.log",
            handler="tests.support.binary_handler:upsert_any_key",
            extra=["--registry", registry.url, "--redis", redis_url, "--concurrency", "4",
                   "--max-attempts", str(MAX_ATTEMPTS), "--metrics-port", str(port),
                   "-X", f"message.max.bytes={limit}", "-X", f"fetch.max.bytes={limit}",
                   "-X", f"max.partition.fetch.bytes={limit}"],
            env={"SINK_DB": str(sink)})
        wait_for_topic(bootstrap, f"{topic}.dlq")
        outcomes = Outcomes(Progress(record), LetterWatch(bootstrap, f"{topic}.dlq",
                                                          PARTITIONS), proc)
        try:
            for planned in catalogue(orders, oracle, rnd):
                sender.send(planned)
            fixed = sender.flush()
            outcomes.settle(fixed)

            for planned in colliding_ids(orders):
                sender.send(planned)
            collided = sender.flush()[len(fixed):]
            outcomes.settle(collided, timeout_s=20)

            odd_name = unreadable_header_name(orders)
            raw_key, raw_value, _ = odd_name
            [offset] = produce_raw(bootstrap, topic, 0, [odd_name])
            odd = [Sent(Planned(raw_key, raw_value, [], None, data_error("DecodeError"),
                                "header name not UTF-8"), topic, 0, offset)]
            outcomes.settle(odd, timeout_s=20)

            numbers = itertools.count()
            examples: list[int] = []

            @settings(max_examples=EXAMPLES, deadline=None)
            @given(batch=st.lists(records(orders), min_size=1, max_size=5))
            def any_records(batch):
                before = len(sender.sent_so_far())
                for kind, key, value, headers in batch:
                    message_id = f"h{next(numbers)}"
                    fate = oracle.fate(value)
                    if kind == "valid order":
                        assert fate is None, "the strategy made an order the schema refuses"
                    sender.send(Planned(key, value, [*headers, ("message-id",
                                                                message_id.encode())],
                                        message_id, fate, kind))
                outcomes.settle(sender.flush()[before:])
                examples.append(len(batch))

            any_records()
            sent = sender.finish() + odd
            ends = ends_of(sent)
            wait_for(lambda: committed(bootstrap, group, topic, ends) == ends, 60,
                     f"offsets committed to the end (seed {seed})")
            health = probe(port, "/healthz")
        finally:
            code = stop(proc)
            outcomes.letters.close()
    assert code == 0, f"the consumer exited with {code}"
    assert health == 200, f"/healthz answered {health}"

    # two distinct non-UTF-8 ids are two messages, each handled once
    collided_positions = {s.position for s in collided}
    calls = [e for e in events(record) if (e.partition, e.offset) in collided_positions]
    assert sorted((e.partition, e.offset) for e in calls if e.kind == "start") == \
        sorted(collided_positions), f"handler calls of the two non-UTF-8 ids: {calls}"
    rows = sink_rows(sink)
    collided_rows = [r for r in rows if (r[1], r[2]) in collided_positions]
    assert len({r[0] for r in collided_rows}) == 2, collided_rows

    checked = [s for s in sent if s.position not in collided_positions]
    letters = [letter for found in outcomes.letters.by_origin.values() for letter in found]
    outcome = verify(checked, group=group,
                     events=[e for e in events(record)
                             if (e.partition, e.offset) not in collided_positions],
                     rows=[r for r in rows if (r[1], r[2]) not in collided_positions],
                     letters=letters, max_attempts=MAX_ATTEMPTS, killed=False)
    for record_sent in fixed + odd:
        if record_sent.planned.bad is not None:
            letter = outcomes.letters.by_origin[record_sent.position][0]
            kept = [h for h in record_sent.planned.headers if not h[0].startswith("dlq.")]
            assert letter.headers == kept, f"{record_sent.planned.label}: {letter.headers}"
    kinds = {label: sum(s.planned.label == label for s in sent)
             for label in ("valid order", "framed bytes", "arbitrary")}
    report("hostile input", {
        "seed": seed,
        "records": f"{outcome.records} ({len(fixed)} catalogue, {len(collided)} non-UTF-8 ids, "
                   f"{len(odd)} non-UTF-8 header name, "
                   f"{sum(examples)} in {len(examples)} hypothesis examples: {kinds})",
        "handled": f"{outcome.good_ids + 2} ids, each once",
        "dead letters": f"{outcome.dead_letters}, one per bad record, all category data",
        "by error class": dict(sorted(
            {cls: sum(letter.error_class == cls for letter in letters)
             for cls in {letter.error_class for letter in letters}}.items())),
        "exit status": code,
    })


def test_an_order_dated_after_year_9999_is_handled(bootstrap, registry_url, redis_url, unique,
                                                  tmp_path):
    topic, group = f"rel-year10k-{unique}", f"rel-year10k-{unique}"
    create_topic(bootstrap, topic, 1)
    orders = OrderEncoders.register(registry_url, f"{topic}-value")
    order = dict(order_v2(1), created_at=253_402_300_800_000)   # 10000-01-01T00:00:00Z
    sent = produce_planned(bootstrap, topic, [
        Planned(b"k", orders.v2.encode(order), [("message-id", b"y10k")], "y10k", None,
                "an order dated 10000-01-01")])
    record = tmp_path / "record.txt"
    proc = run_consumer(bootstrap=bootstrap, topic=topic, group=group, record_file=record,
                        log_file=tmp_path / "consumer.log",
                        handler="tests.support.binary_handler:upsert_any_key",
                        extra=["--registry", registry_url, "--redis", redis_url],
                        env={"SINK_DB": str(tmp_path / "sink.db")})
    try:
        wait_for_topic(bootstrap, f"{topic}.dlq")
        letters = LetterWatch(bootstrap, f"{topic}.dlq", 1)
        try:
            Outcomes(Progress(record), letters, proc).settle(sent, timeout_s=30)
        finally:
            letters.close()
    finally:
        assert stop(proc) == 0
