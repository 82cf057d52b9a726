"""The contenders of bench/compare.py that are not ``consumer run``, one per process:

    contenders.py KIND --bootstrap B --topic T --group G --schema orders-v1.avsc

KIND: ``raw`` (a confluent-kafka ``consume()`` loop), ``raw-avro`` (the same, decoding each
value with fastavro), ``raw-avro-tuned`` (that loop with Python's garbage collector and
librdkafka's fetch backoff tuned as ``consumer run`` tunes them), ``quix`` (Quix Streams),
``faststream-kafka`` (FastStream on aiokafka), ``faststream-confluent`` (FastStream on
confluent-kafka). Each decodes the Confluent wire format the same way (fastavro
``schemaless_reader`` after the 5-byte header, the schema parsed once), hands the record to a trivial handler that only reports to the probe (bench/probe.py), and
commits at least once as far as its library allows. Runs until SIGTERM. The peers run in their
own virtualenv (their pins differ from ours): ``pip install -e '.[bench]'`` there.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import signal
from pathlib import Path
from typing import Any

import fastavro
from probe import PROBE  # bench/, the script's own directory, is on sys.path

GROUP_TIMINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}  # Tansu joins fast
HEADER_BYTES = 5


def avro_reader(schema_path: str) -> Any:
    schema = fastavro.parse_schema(json.loads(Path(schema_path).read_text()))

    def decode(value: bytes) -> Any:
        stream = io.BytesIO(value)
        stream.seek(HEADER_BYTES)
        return fastavro.schemaless_reader(stream, schema, None)

    return decode


def fetch_wait(options: argparse.Namespace) -> dict[str, int]:
    """librdkafka's fetch.wait.max.ms when the run sets one for every contender."""
    return {} if options.fetch_wait_ms is None else {"fetch.wait.max.ms": options.fetch_wait_ms}


def raw_loop(options: argparse.Namespace, decode: Any, tuning: dict[str, int]) -> None:
    """At least once: offsets are stored for the committer only after the batch is handled."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": options.bootstrap, "group.id": options.group,
                         "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
                         **GROUP_TIMINGS, **fetch_wait(options), **tuning})
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    consumer.subscribe([options.topic])
    seen = PROBE.seen  # type: ignore[union-attr]
    while not stopping:
        batch = consumer.consume(10_000, 0.1)
        ends: dict[int, int] = {}
        for msg in batch:
            if msg.error() is not None:
                continue
            if decode is not None:
                decode(msg.value())
            seen(msg.timestamp()[1])
            ends[msg.partition()] = msg.offset() + 1
        if ends:
            consumer.store_offsets(offsets=[TopicPartition(options.topic, p, o)
                                            for p, o in ends.items()])
    consumer.close()


def quix(options: argparse.Namespace, decode: Any) -> None:
    from quixstreams import Application
    from quixstreams.models.serializers import Deserializer

    class AvroDeserializer(Deserializer):
        def __call__(self, value: bytes, ctx: Any) -> Any:
            return decode(value)

    app = Application(broker_address=options.bootstrap, consumer_group=options.group,
                      auto_offset_reset="earliest", processing_guarantee="at-least-once",
                      consumer_extra_config={**GROUP_TIMINGS, **fetch_wait(options)},
                      loglevel="WARNING",
                      state_dir=options.state_dir, use_changelog_topics=False)
    topic = app.topic(options.topic, value_deserializer=AvroDeserializer())
    seen = PROBE.seen  # type: ignore[union-attr]

    def handle(value: Any, key: Any, timestamp: int, headers: Any) -> None:
        seen(timestamp)

    app.dataframe(topic).update(handle, metadata=True)
    app.run()  # stops (and commits what it processed) on SIGTERM


def faststream(options: argparse.Namespace, decode: Any, flavour: str) -> None:
    from faststream import AckPolicy, Context, FastStream

    if flavour == "kafka":
        from faststream.kafka import KafkaBroker

        def timestamp_of(raw: Any) -> int:
            return int(raw.timestamp)
    else:
        from faststream.confluent import KafkaBroker  # type: ignore[assignment]

        def timestamp_of(raw: Any) -> int:
            return int(raw.timestamp()[1])

    broker = KafkaBroker(options.bootstrap, logger=None)  # no log line per message
    seen = PROBE.seen  # type: ignore[union-attr]

    async def avro_decoder(message: Any) -> Any:
        return decode(message.body)

    fetch_options = {} if options.fetch_wait_ms is None else {
        "fetch_max_wait_ms": options.fetch_wait_ms}

    # AckPolicy.ACK: the offset is committed after the handler returned (at least once).
    @broker.subscriber(options.topic, group_id=options.group, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.ACK, decoder=avro_decoder,
                       session_timeout_ms=GROUP_TIMINGS["session.timeout.ms"],
                       heartbeat_interval_ms=GROUP_TIMINGS["heartbeat.interval.ms"],
                       **fetch_options)
    async def handle(order: Any, message: Any = Context("message")) -> None:  # noqa: B008
        seen(timestamp_of(message.raw_message))

    asyncio.run(FastStream(broker).run())  # stops on SIGTERM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["raw", "raw-avro", "raw-avro-tuned", "quix",
                                         "faststream-kafka", "faststream-confluent"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--schema", required=True, help="the .avsc the values were written with")
    parser.add_argument("--state-dir", default="/tmp/bench-quix-state")
    parser.add_argument("--fetch-wait-ms", type=int, help="default: the library's (500 ms)")
    options = parser.parse_args()
    decode = avro_reader(options.schema)
    if options.kind == "raw":
        raw_loop(options, None, {})
    elif options.kind == "raw-avro":
        raw_loop(options, decode, {})
    elif options.kind == "raw-avro-tuned":
        from common import tune_like_consumer_run  # ours: runs in our virtualenv

        raw_loop(options, decode, tune_like_consumer_run())
    elif options.kind == "quix":
        quix(options, decode)
    else:
        faststream(options, decode, options.kind.split("-", 1)[1])


if __name__ == "__main__":
    main()
