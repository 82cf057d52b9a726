"""Streams with a known fate for every record: which ones must be handled (once per id), which
ones dead-lettered and why. Producing them returns each record's partition and offset from the
delivery reports, so dead letters can be matched to their originals exactly."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

Headers = list[tuple[str, bytes]]

HANDLER_BUG = "builtins.RuntimeError"          # what tests/support/handlers.py raises on FAIL_IDS
CRASH_LOOP = "consumer.errors.CrashLoopError"  # a poison in flight at kills, blamed by recovery


@dataclass(frozen=True)
class Bad:
    """Why a record must be dead-lettered: its ``dlq.error.category`` and the error classes its
    ``dlq.error.class`` may name."""

    category: str
    error_classes: tuple[str, ...]


def data_error(name: str) -> Bad:
    return Bad("data", (f"consumer.errors.{name}",))


HANDLER_POISON = Bad("handler", (HANDLER_BUG,))


@dataclass(frozen=True)
class Planned:
    key: bytes | None
    value: bytes | None
    headers: Headers
    message_id: str | None       # the id header's value as the consumer reads it; None: no header
    bad: Bad | None = None
    label: str = ""              # what kind of record it is, for failure messages and figures


@dataclass(frozen=True)
class Sent:
    planned: Planned
    topic: str
    partition: int
    offset: int

    @property
    def message_id(self) -> str:
        """The identity CONTRACT.md defines (header, else topic/partition/offset)."""
        if self.planned.message_id is not None:
            return self.planned.message_id
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def position(self) -> tuple[int, int]:
        return self.partition, self.offset


def json_stream(ids: int, *, duplicate_share: float, handler_poison: int, undecodable: int,
                keys: int, seed: int, prefix: str = "m") -> list[Planned]:
    """``ids`` distinct JSON messages plus ``duplicate_share`` of extra copies (same id, same
    key, later offset, as a retrying producer sends them), ``handler_poison`` of the ids marked
    to make the handler fail (their ids are returned by ``poison_ids``) and ``undecodable``
    records whose value is not JSON. Shuffled, copies always after their first."""
    rnd = random.Random(seed)
    poison = set(rnd.sample(range(ids), handler_poison))
    originals = []
    for n in range(ids):
        bad = HANDLER_POISON if n in poison else None
        originals.append(Planned(f"k{n % keys}".encode(), b'{"n": %d}' % n,
                                 [("message-id", f"{prefix}{n}".encode())], f"{prefix}{n}", bad,
                                 "handler poison" if bad else "good"))
    originals += [Planned(f"k{n % keys}".encode(), b"\xff\xfe not json %d" % n,
                          [("message-id", f"{prefix}bad{n}".encode())], f"{prefix}bad{n}",
                          data_error("DecodeError"), "undecodable")
                  for n in range(undecodable)]
    rnd.shuffle(originals)
    copies = [rnd.randrange(len(originals)) for _ in range(int(ids * duplicate_share))]
    inserts: dict[int, list[Planned]] = {}
    for source in copies:
        # a copy lands somewhere after its original
        at = rnd.randrange(source, len(originals))
        inserts.setdefault(at, []).append(originals[source])
    stream = []
    for index, planned in enumerate(originals):
        stream.append(planned)
        stream += inserts.get(index, [])
    return stream


def poison_ids(stream: Iterable[Planned]) -> list[str]:
    return sorted({p.message_id for p in stream
                   if p.bad is HANDLER_POISON and p.message_id is not None})


def produce_planned(bootstrap: str, topic: str, planned: Iterable[Planned],
                    config: dict[str, Any] | None = None) -> list[Sent]:
    """Produces every record and returns where each one landed, in the order given."""
    sender = PlannedProducer(bootstrap, topic, config)
    for record in planned:
        sender.send(record)
    return sender.finish()


class PlannedProducer:
    """Sends planned records and remembers where the broker put each one. ``send`` may be
    called from one thread while another reads ``sent_so_far``."""

    def __init__(self, bootstrap: str, topic: str, config: dict[str, Any] | None = None) -> None:
        self.topic = topic
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                   "enable.idempotence": True, **(config or {})})
        self._sent: list[Sent] = []
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._count = 0

    def send(self, record: Planned, partition: int | None = None) -> None:
        def delivered(err: Any, msg: Any) -> None:
            with self._lock:
                if err is not None:
                    self._failures.append(str(err))
                else:
                    self._sent.append(Sent(record, self.topic, msg.partition(), msg.offset()))

        extra = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(self.topic, key=record.key, value=record.value,
                                       headers=record.headers, on_delivery=delivered, **extra)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._count += 1
        if self._count % 500 == 0:
            self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    def sent_so_far(self) -> list[Sent]:
        with self._lock:
            return list(self._sent)

    def flush(self, timeout_s: float = 120) -> list[Sent]:
        """Waits for every acknowledgement; returns everything sent, in delivery order."""
        left = self._producer.flush(timeout_s)
        assert left == 0, f"{left} records left undelivered after {timeout_s}s"
        assert not self._failures, self._failures[:3]
        return self.sent_so_far()

    def finish(self, timeout_s: float = 120) -> list[Sent]:
        """``flush``, then lets the client go (it would keep calling a broker the test stops
        later)."""
        sent = self.flush(timeout_s)
        del self._producer
        return sent


def ends_of(sent: Iterable[Sent]) -> dict[int, int]:
    """partition -> end offset (last offset + 1) of what was sent."""
    ends: dict[int, int] = {}
    for record in sent:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


@dataclass
class LiveLoad:
    """Produces ``planned`` at about ``rate_per_s`` records a second on a thread of its own,
    so records keep arriving while a fault is injected."""

    sender: PlannedProducer
    planned: list[Planned]
    rate_per_s: float
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> LiveLoad:
        self._thread = threading.Thread(target=self._run, name="live-load", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        for index, record in enumerate(self.planned):
            if self._stop.is_set():
                return
            pause = started + index / self.rate_per_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.sender.send(record)
            self.sender.poll()

    def finish(self, timeout_s: float) -> list[Sent]:
        """Waits until every record is sent and acknowledged."""
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the live load did not finish in time"
        return self.sender.finish()

    def abort(self) -> None:
        self._stop.set()
