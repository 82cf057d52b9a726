"""``Message``: what a handler receives. Built once per record on the hot path, so it holds
plain slots and derives headers and timestamp from the raw record only when asked."""

from __future__ import annotations

from typing import Any


class Message:
    """One Kafka record as the handler sees it.

    ``value`` is the decoded record (a dict for Avro and JSON, bytes for ``bytes``), ``key`` the
    raw key bytes, ``message_id`` the identity dedup and replay key on, ``attempt`` 1-based.
    """

    __slots__ = ("_headers", "attempt", "batch", "failure", "key", "lane", "message_id",
                 "offset", "partition", "raw", "schema_id", "screened_at", "topic", "tracker",
                 "value")

    def __init__(self, raw: Any, topic: str, partition: int, offset: int, key: bytes | None,
                 lane: Any, tracker: Any) -> None:
        self.raw = raw
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value: Any = None
        self.message_id = ""
        self.schema_id: int | None = None
        self.attempt = 1
        self._headers: dict[str, bytes] | None = None
        # Runtime bookkeeping, not for handlers: the ordering lane, the partition's offset
        # tracker, and the failure history (first failure time, last error) once one happened.
        self.lane = lane
        self.tracker = tracker
        self.failure: Any = None
        self.screened_at = 0.0   # when the pre-start step last saw it (monotonic clock)
        self.batch: Any = None   # its RunningBatch once on record as running (recovery)

    @property
    def headers(self) -> dict[str, bytes]:
        if self._headers is None:
            self._headers = dict(self.raw.headers() or ())
        return self._headers

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch (the record's create or log-append time)."""
        return int(self.raw.timestamp()[1])

    @property
    def raw_value(self) -> bytes | None:
        """The value's bytes as they came from the broker."""
        return self.raw.value()

    def __repr__(self) -> str:
        return (f"Message({self.topic}/{self.partition}@{self.offset}, id={self.message_id!r}, "
                f"attempt={self.attempt})")
