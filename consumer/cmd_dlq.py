"""``consumer dlq inspect|replay``: the dead letters of a dead-letter topic, listed with their
context, or republished to their original topic (or ``--to``) once per replay group."""

from __future__ import annotations

import argparse
import json
import sys

from confluent_kafka import OFFSET_BEGINNING, Producer

from .cli import add_service_options
from .cmd_lag import connection_settings
from .constants import CATEGORIES
from .dlq import DeadLetterRecord, parse_dead_letter
from .dlq_filter import LetterFilter
from .dlq_replay import (
    REPLAY_DELIVERY_TIMEOUT_MS,
    Replayer,
    ReplayOptions,
    ReplayReport,
    default_group,
)
from .dlq_view import (
    ReadProgress,
    letter_json,
    letters_table,
    now_ms,
    print_replay_summary,
    replay_json,
)
from .endpoints import resolve
from .errors import ReplayError, UsageError
from .kafka import producer_config
from .output import console, err_console, print_json
from .timestamps import parse_time_ms
from .topic_reader import TopicReader, open_consumer, partitions_of

# Inspect never commits: this group id only satisfies librdkafka.
INSPECT_GROUP = "consumer-dlq-inspect"


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _time_ms(text: str) -> int:
    try:
        return parse_time_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: argparse._SubParsersAction) -> None:
    dlq = commands.add_parser("dlq", help="inspect and replay a dead-letter topic",
                              description=__doc__)
    actions = dlq.add_subparsers(dest="action", required=True)

    inspect = actions.add_parser("inspect", help="list dead letters with their context",
                                 description="Reads the dead-letter topic from the beginning "
                                 "(commits nothing) and lists its letters, oldest first.")
    inspect.add_argument("--topic", required=True, help="the dead-letter topic")
    inspect.add_argument("--limit", type=_positive_int, metavar="N",
                         help="list the first N matching letters only")
    inspect.add_argument("--category", choices=CATEGORIES, help="only letters of this category")
    inspect.add_argument("--json", action="store_true",
                         help="a JSON array, one object per letter, with stable keys")
    _add_connection_options(inspect)
    inspect.set_defaults(func=_inspect)

    replay = actions.add_parser(
        "replay", help="republish dead letters to their original topic (or --to)",
        description="Republishes matching letters without their dlq.* headers and with "
        "dlq.replay.count one up. Progress is committed to a replay group once the broker "
        "acknowledged the republished records, so running it again replays nothing twice.")
    replay.add_argument("--topic", required=True, help="the dead-letter topic")
    replay.add_argument("--to", metavar="TOPIC", help="republish here instead of to each "
                        "letter's original topic")
    replay.add_argument("--category", choices=CATEGORIES, help="only letters of this category")
    replay.add_argument("--error-class", metavar="X", help="only letters whose error class is "
                        "X (fully qualified, or the bare class name)")
    replay.add_argument("--since", type=_time_ms, metavar="TS", help="only letters that last "
                        "failed at or after TS (ISO-8601 or epoch ms)")
    replay.add_argument("--until", type=_time_ms, metavar="TS", help="only letters that last "
                        "failed before TS (ISO-8601 or epoch ms)")
    replay.add_argument("--limit", type=_positive_int, metavar="N",
                        help="replay at most N letters (the next run goes on from there)")
    replay.add_argument("--rate", type=_positive_float, metavar="N",
                        help="republish at most N letters per second")
    replay.add_argument("--max-replays", type=_positive_int, default=3, metavar="N",
                        help="skip, with a warning, letters already replayed N times "
                        "(default 3)")
    replay.add_argument("--group", help="the replay group keeping progress (default "
                        "<topic>.replay; with filters or --to, <topic>.replay.<hash of them>)")
    replay.add_argument("--dry-run", action="store_true",
                        help="report what would be replayed; write and commit nothing")
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_connection_options(replay)
    replay.set_defaults(func=_replay)


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-X", "--kafka", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka connection setting (security.protocol, sasl.*, "
                        "ssl.*); repeatable")
    add_service_options(parser, "bootstrap")


def _inspect(args: argparse.Namespace) -> int:
    select = LetterFilter(category=args.category)
    consumer = open_consumer(resolve("bootstrap", args.bootstrap), INSPECT_GROUP,
                             connection_settings(args.kafka))
    now = now_ms()
    rows: list[DeadLetterRecord] = []
    listed = 0
    try:
        partitions = partitions_of(consumer, args.topic)
        reader = TopicReader(consumer, args.topic, dict.fromkeys(partitions, OFFSET_BEGINNING))
        if args.json:
            # Streamed: the letters of a large topic need not fit in memory.
            sys.stdout.write("[")
        with ReadProgress(f"reading {args.topic}") as progress:
            for batch in reader.batches():
                backlog = reader.backlog()
                if backlog is not None:
                    progress.total(progress.completed + len(batch) + backlog)
                for record in batch:
                    progress.advance(1)
                    letter = parse_dead_letter(record)
                    if not select.matches(letter):
                        continue
                    listed += 1
                    if args.json:
                        sys.stdout.write(("\n" if listed == 1 else ",\n")
                                         + json.dumps(letter_json(letter, now)))
                    else:
                        rows.append(letter)
                    if listed == args.limit:
                        break
                if listed == args.limit:
                    break
    finally:
        consumer.close()
    if args.json:
        sys.stdout.write("\n]\n" if listed else "]\n")
    else:
        title = f"{listed} dead letter(s) in {args.topic}" + (
            f" of category {args.category}" if args.category else "")
        console.print(letters_table(title, rows, now, console.width))
    _warn_unconfirmed(reader.unconfirmed)
    return 0


def _replay(args: argparse.Namespace) -> int:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since must be before --until")
    if args.to is not None and args.to == args.topic:
        raise UsageError("--to names the dead-letter topic itself: that would loop")
    select = LetterFilter(args.category, args.error_class, args.since, args.until)
    group = args.group or default_group(args.topic, select, args.to)
    options = ReplayOptions(topic=args.topic, group=group, to=args.to, select=select,
                            limit=args.limit, rate_per_s=args.rate,
                            max_replays=args.max_replays, dry_run=args.dry_run)
    bootstrap = resolve("bootstrap", args.bootstrap)
    connection = connection_settings(args.kafka)
    consumer = open_consumer(bootstrap, group, connection)
    try:
        if args.to is not None:
            partitions_of(consumer, args.to)
        producer = None if args.dry_run else Producer(
            {**producer_config(bootstrap, connection),
             "message.timeout.ms": REPLAY_DELIVERY_TIMEOUT_MS})
        progress = ReadProgress(f"replaying {args.topic}")
        replayer = Replayer(options, consumer, producer, progress)
        try:
            with progress:
                report = replayer.run()
        except ReplayError:
            _show_replay(replayer.report, args.json)
            raise
    finally:
        consumer.close()
    _show_replay(report, args.json)
    _warn_unconfirmed(report.unconfirmed_partitions)
    return 0


def _show_replay(report: ReplayReport, as_json: bool) -> None:
    if as_json:
        print_json(replay_json(report))
    else:
        print_replay_summary(report)


def _warn_unconfirmed(partitions: list[int]) -> None:
    if partitions:
        err_console.print(f"warning: the end of partition(s) {partitions} was not confirmed "
                          f"(no answer from the broker); their letters may be incomplete",
                          highlight=False)
