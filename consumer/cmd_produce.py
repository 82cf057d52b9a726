"""``consumer produce --topic T --subject S FILE.jsonl``: one JSON record a line, Avro-encoded
with the subject's schema in the Confluent wire format and produced with delivery confirmed.
Every line is checked before the first record is sent, so a bad line sends nothing."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Producer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .avro_codec import AvroEncoder
from .cli import add_service_options
from .constants import DEFAULT_ID_HEADER
from .endpoints import resolve
from .errors import (
    RegistryUnavailable,
    ServiceUnavailable,
    UsageError,
    ValidationError,
)
from .output import console, err_console, print_json
from .registry_client import RegistryClient

FLUSH_TIMEOUT_S = 60.0


def register(commands: argparse._SubParsersAction) -> None:
    produce = commands.add_parser("produce", help="produce JSON lines as Avro records",
                                  description=__doc__)
    produce.add_argument("file", type=Path, help="JSON lines: one record per line")
    produce.add_argument("--topic", required=True)
    produce.add_argument("--subject", required=True, help="registry subject whose schema "
                         "encodes the records, e.g. orders-value")
    produce.add_argument("--version", default="latest",
                         help="schema version of the subject (default latest)")
    produce.add_argument("--key-field", help="record field whose value is the message key")
    produce.add_argument("--id-field", help=f"record field whose value goes in the "
                         f"{DEFAULT_ID_HEADER!r} header")
    produce.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_service_options(produce, "bootstrap", "registry")
    produce.set_defaults(func=_run)


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) for every non-blank line; a line that is not JSON is a usage
    error naming it."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except ValueError as exc:
                    raise UsageError(f"{path}:{number}: not JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def _field(record: Any, name: str | None, path: Path, number: int) -> bytes | None:
    if name is None:
        return None
    if not isinstance(record, dict) or record.get(name) is None:
        raise UsageError(f"{path}:{number}: record has no field {name!r}")
    value = record[name]
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _encode(encoder: AvroEncoder, args: argparse.Namespace, number: int,
            record: Any) -> tuple[bytes, bytes | None, bytes | None]:
    try:
        value = encoder.encode(record)
    except ValidationError as exc:
        raise UsageError(f"{args.file}:{number}: {exc}") from None
    return (value, _field(record, args.key_field, args.file, number),
            _field(record, args.id_field, args.file, number))


def _run(args: argparse.Namespace) -> int:
    bootstrap = resolve("bootstrap", args.bootstrap)
    with RegistryClient(resolve("registry", args.registry)) as registry:
        try:
            encoder = AvroEncoder.for_subject(registry, args.subject, args.version)
        except RegistryUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from None
    total = 0
    for number, record in _records(args.file):  # the checking pass: nothing sent yet
        _encode(encoder, args, number, record)
        total += 1
    if total == 0:
        raise UsageError(f"{args.file}: no records")

    failures: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5, "log_level": 3})
    progress = Progress(TextColumn("producing to {task.fields[topic]}"), BarColumn(),
                        MofNCompleteColumn(), TimeRemainingColumn(), console=err_console,
                        disable=args.json, transient=True)
    with progress:
        task = progress.add_task("produce", total=total, topic=args.topic)

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                failures.append(str(error))
            progress.advance(task)

        for number, record in _records(args.file):
            value, key, message_id = _encode(encoder, args, number, record)
            headers: list[tuple[str, str | bytes | None]] | None = (
                [(DEFAULT_ID_HEADER, message_id)] if message_id is not None else None)
            while True:
                try:
                    producer.produce(args.topic, value, key, headers=headers, on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.5)
                except KafkaException as exc:
                    raise ServiceUnavailable(f"cannot produce to {args.topic}: {exc}") from None
            producer.poll(0)
        left = producer.flush(FLUSH_TIMEOUT_S)
    if left or failures:
        reason = failures[0] if failures else f"{left} not confirmed within {FLUSH_TIMEOUT_S:.0f}s"
        raise ServiceUnavailable(f"{len(failures) + left} of {total} records not delivered to "
                                 f"{args.topic} ({bootstrap}): {reason}")
    summary = {"topic": args.topic, "subject": args.subject, "schema_id": encoder.schema_id,
               "produced": total}
    if args.json:
        print_json(summary)
    else:
        console.print(f"produced {total} records to [bold]{args.topic}[/bold] "
                      f"(schema id {encoder.schema_id} of {args.subject})")
    return 0
