"""``consumer lag --group G [--topic T] [--json] [--watch] [--max-lag N]``: per-partition committed
offset, high watermark and lag of any consumer group, read from the broker (the group need not
be running). With ``--max-lag`` the exit status is 1 when any partition lags by more."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import nullcontext

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from rich.live import Live
from rich.table import Table

from .cli import add_service_options
from .endpoints import resolve
from .errors import NotFoundError, ServiceUnavailable, UsageError
from .lag import LagProbe, PartitionKey, PartitionLag
from .output import console, err_console, print_json

ADMIN_TIMEOUT_S = 10.0
CONNECTION_PREFIXES = ("security.", "sasl.", "ssl.", "client.dns", "socket.")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of messages, got {text!r}")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:
    lag = commands.add_parser(
        "lag", help="per-partition lag of a consumer group",
        description="Per-partition committed offset, high watermark and lag (messages, and "
                    "seconds: the age of the oldest message not yet done) of any consumer "
                    "group, read from the broker; the group need not be running.")
    lag.add_argument("--group", required=True, help="the consumer group")
    lag.add_argument("--topic", help="only this topic (default: every topic the group uses)")
    lag.add_argument("--json", action="store_true", help="print JSON (one line per refresh "
                     "with --watch)")
    lag.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    lag.add_argument("--interval", type=_positive_float, default=5.0, metavar="SECONDS",
                     help="seconds between refreshes with --watch (default 5)")
    lag.add_argument("--max-lag", type=_non_negative_int, metavar="N",
                     help="exit 1 when any partition lags by more than N messages")
    lag.add_argument("-X", "--kafka", action="append", default=[], metavar="KEY=VALUE",
                     help="a librdkafka connection setting (security.protocol, sasl.*, ssl.*); "
                          "repeatable")
    add_service_options(lag, "bootstrap")
    lag.set_defaults(func=_run)


def connection_settings(items: list[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-X {item!r}: expected KEY=VALUE")
        if not key.strip().startswith(CONNECTION_PREFIXES):
            raise UsageError(f"-X {key.strip()}: only connection settings "
                             f"({', '.join(p + '*' for p in CONNECTION_PREFIXES)}) apply here")
        settings[key.strip()] = value
    return settings


class GroupLag:
    """Reads a group's committed offsets and measures their lag, again on each ``read()``."""

    def __init__(self, bootstrap: str, group: str, topic: str | None,
                 connection: Mapping[str, str]) -> None:
        self.group = group
        self.topic = topic
        self._admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3, **connection})
        self._probe = LagProbe(bootstrap, connection)

    def close(self) -> None:
        self._probe.close()

    def read(self) -> list[PartitionLag]:
        return sorted(self._probe.measure(self._committed()),
                      key=lambda lag: (lag.topic, lag.partition))

    def _committed(self) -> dict[PartitionKey, int | None]:
        try:
            # Only the full listing: asking for one topic's metadata creates it on brokers
            # with auto-creation on (Tansu always).
            partitions = {name: len(meta.partitions) for name, meta in
                          self._admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics.items()}
            commits = self._commits()
            assigned = self._assigned_topics()
        except KafkaException as exc:
            raise ServiceUnavailable(f"the broker does not answer: {exc}") from exc
        if self.topic is not None and self.topic not in partitions:
            raise NotFoundError(f"topic {self.topic!r} does not exist")
        topics = {topic for topic, _ in commits} | assigned
        if self.topic is not None:
            topics &= {self.topic}
        if not topics:
            where = f" on topic {self.topic!r}" if self.topic else ""
            raise NotFoundError(f"consumer group {self.group!r} not found: no committed offsets"
                                f"{where} and no member assigned")
        return {(topic, partition): _offset_or_none(commits.get((topic, partition)))
                for topic in sorted(topics) for partition in range(partitions.get(topic, 0))}

    def _commits(self) -> dict[PartitionKey, int]:
        request = [ConsumerGroupTopicPartitions(self.group)]
        answer = self._admin.list_consumer_group_offsets(request)[self.group]
        try:
            listed = answer.result(timeout=ADMIN_TIMEOUT_S).topic_partitions or []
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                return {}
            raise
        return {(tp.topic, tp.partition): tp.offset for tp in listed}

    def _assigned_topics(self) -> set[str]:
        described = self._admin.describe_consumer_groups([self.group])[self.group]
        description = described.result(timeout=ADMIN_TIMEOUT_S)
        return {tp.topic for member in description.members or []
                for tp in member.assignment.topic_partitions}


def _offset_or_none(offset: int | None) -> int | None:
    return offset if offset is not None and offset >= 0 else None


def _run(args: argparse.Namespace) -> int:
    view = GroupLag(resolve("bootstrap", args.bootstrap), args.group, args.topic,
                    connection_settings(args.kafka))
    try:
        if args.watch:
            return _watch(view, args)
        spinner = nullcontext() if args.json else console.status("reading lag from the broker…")
        with spinner:
            lags = view.read()
        if args.json:
            print_json(_as_json(view.group, lags))
        else:
            console.print(_table(view.group, lags, args.max_lag))
        return _verdict(lags, args.max_lag)
    finally:
        view.close()


def _watch(view: GroupLag, args: argparse.Namespace) -> int:
    """Reads again every ``--interval`` until Ctrl-C (or SIGTERM). The signal only sets a flag:
    raised as KeyboardInterrupt inside a librdkafka call it can leave that call's client
    half-way, and closing it then may hang."""
    interrupted = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: interrupted.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        lags = view.read()
        if args.json:
            while True:
                sys.stdout.write(json.dumps(_as_json(view.group, lags)) + "\n")
                sys.stdout.flush()
                if interrupted.wait(args.interval):
                    return _verdict(lags, args.max_lag)
                lags = view.read()
        with Live(_table(view.group, lags, args.max_lag), console=console,
                  auto_refresh=False) as live:
            while not interrupted.wait(args.interval):
                lags = view.read()
                live.update(_table(view.group, lags, args.max_lag), refresh=True)
        return _verdict(lags, args.max_lag)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _verdict(lags: list[PartitionLag], max_lag: int | None) -> int:
    if max_lag is None:
        return 0
    over = [lag for lag in lags if lag.lag_messages > max_lag]
    if over:
        worst = max(over, key=lambda lag: lag.lag_messages)
        err_console.print(f"{len(over)} partition(s) lag by more than {max_lag} messages; "
                          f"worst {worst.topic}/{worst.partition}: {worst.lag_messages}",
                          highlight=False)
        return 1
    return 0


def _as_json(group: str, lags: list[PartitionLag]) -> dict[str, object]:
    ages = [lag.lag_seconds for lag in lags if lag.lag_seconds is not None]
    return {"group": group, "partitions": [lag.as_dict() for lag in lags],
            "total_lag_messages": sum(lag.lag_messages for lag in lags),
            "max_lag_seconds": max(ages, default=0.0)}


def _table(group: str, lags: list[PartitionLag], max_lag: int | None) -> Table:
    total = sum(lag.lag_messages for lag in lags)
    oldest = max((lag.lag_seconds or 0.0 for lag in lags), default=0.0)
    view = Table(title=f"consumer group {group}", header_style="bold",
                 caption=f"total lag {total:,} messages · oldest waiting {age(oldest)} · "
                         f"{time.strftime('%H:%M:%S')}")
    view.add_column("topic", overflow="fold")
    for name in ("partition", "committed", "high watermark", "lag", "lag age"):
        view.add_column(name, justify="right", no_wrap=True)
    for lag in lags:
        over = max_lag is not None and lag.lag_messages > max_lag
        view.add_row(lag.topic, str(lag.partition),
                     "-" if lag.committed is None else f"{lag.committed:,}",
                     f"{lag.high_watermark:,}", f"{lag.lag_messages:,}",
                     "?" if lag.lag_seconds is None else age(lag.lag_seconds),
                     style="red" if over else None)
    return view


def age(seconds: float) -> str:
    """``0s``, ``4.2s``, ``5m 02s``, ``3h 04m``, ``2d 03h``: short enough for a table cell."""
    if seconds < 60:
        return "0s" if seconds == 0 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"
