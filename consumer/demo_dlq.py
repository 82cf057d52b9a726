"""The demo's dead letters: read back as ``consumer dlq inspect`` reads them, shown with its
table, and replayed as ``consumer dlq replay --category handler`` replays them (same classes,
same progress group, so the user's own replay afterwards finds nothing new either)."""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, Producer
from rich.console import Console
from rich.text import Text

from .constants import CATEGORY_HANDLER
from .demo_report import show_command
from .dlq import DeadLetterRecord, parse_dead_letter
from .dlq_filter import LetterFilter
from .dlq_replay import REPLAY_DELIVERY_TIMEOUT_MS, Replayer, ReplayOptions, default_group
from .dlq_view import letters_table, now_ms
from .kafka import producer_config
from .topic_reader import TopicReader, open_consumer, partitions_of

HANDLER_LETTERS = LetterFilter(category=CATEGORY_HANDLER)
# Reading only, never committing: the group id only satisfies librdkafka.
READ_GROUP = "consumer-demo-read"
# librdkafka's notices (Tansu closing an idle coordinator connection, say) would land in the
# middle of the demo's output; errors still show, and failures raise anyway.
QUIET = {"log_level": 3}


class _ReplayNotes:
    """``dlq_replay.Progress`` for the demo's few letters: no bar, warnings shown."""

    def __init__(self, out: Console) -> None:
        self._out = out

    def total(self, letters: int) -> None:
        """A bar's total: the demo shows none."""

    def advance(self, letters: int) -> None:
        """A bar's step: the demo shows none."""

    def warn(self, text: str) -> None:
        self._out.print(Text(f"warning: {text}", style="yellow"))


def read_letters(bootstrap: str, topic: str) -> list[DeadLetterRecord]:
    """Every letter of the dead-letter topic, oldest first in each partition."""
    consumer = open_consumer(bootstrap, READ_GROUP, QUIET)
    try:
        starts = dict.fromkeys(partitions_of(consumer, topic), OFFSET_BEGINNING)
        reader = TopicReader(consumer, topic, starts)
        return [parse_dead_letter(record) for batch in reader.batches() for record in batch]
    finally:
        consumer.close()


def show_letters(bootstrap: str, topic: str, out: Console) -> None:
    """What ``consumer dlq inspect --topic <topic>`` prints."""
    letters = read_letters(bootstrap, topic)
    out.print()
    show_command(out, f"consumer dlq inspect --topic {topic}")
    out.print(letters_table(f"{len(letters)} dead letter(s) in {topic}", letters, now_ms(),
                            out.width))


def replay(bootstrap: str, topic: str, target: str, out: Console) -> int:
    """``consumer dlq replay --topic <topic> --category handler``; returns letters replayed."""
    show_command(out, f"consumer dlq replay --topic {topic} --category {CATEGORY_HANDLER}")
    group = default_group(topic, HANDLER_LETTERS, None)
    consumer = open_consumer(bootstrap, group, QUIET)
    try:
        producer = Producer({**producer_config(bootstrap, {}),
                             "message.timeout.ms": REPLAY_DELIVERY_TIMEOUT_MS})
        options = ReplayOptions(topic=topic, group=group, select=HANDLER_LETTERS)
        report = Replayer(options, consumer, producer, _ReplayNotes(out)).run()
    finally:
        consumer.close()
    out.print(f"replayed {report.replayed} letter(s) to {target} (progress kept in group "
              f"{group})", highlight=False)
    return report.replayed
