"""The group's record log in Redis: how each member's Bloom filter learns what the other members
recorded, and how a new member starts from a snapshot instead of from nothing.

- ``log`` (a stream): every ``record`` appends one entry ``{m: member, k: Bloom keys packed as
  little-endian u64}``, in the same round trip as its done marks.
- ``snapshot:<fingerprint>`` (a hash): ``position`` (a log id) and ``filter`` (the serialized
  ``WindowedBloom`` of a member that had applied every entry up to ``position``). Written
  periodically by one member (``snapshot-lock``), only if newer than the one it replaces.
- ``trimmed`` (a string): a log id; entries below it may be gone. The snapshot script, in one
  atomic step, trims the log below the *previous* snapshot's position and raises ``trimmed``
  to it, so the log always holds everything after the current snapshot, and a member that fell
  further behind than that finds out (its position is below ``trimmed``) and rebuilds from the
  snapshot.

Each key expires ``retention`` after its last write, which outlives every done mark it describes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .redis_conn import RedisClient
from .redis_keys import GroupKeys

StreamId = tuple[int, int]
ZERO: StreamId = (0, 0)

_KEY = struct.Struct("<Q")

_WRITE_SNAPSHOT = """
local function later(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  return ams > bms or (ams == bms and aseq > bseq)
end
local previous = redis.call('HGET', KEYS[1], 'position')
if previous and not later(ARGV[1], previous) then return 0 end
redis.call('HSET', KEYS[1], 'position', ARGV[1], 'filter', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if previous then
  local trimmed = redis.call('GET', KEYS[2])
  if not trimmed or later(previous, trimmed) then
    redis.call('SET', KEYS[2], previous, 'PX', ARGV[3])
    redis.call('XTRIM', KEYS[3], 'MINID', previous)
  end
end
return 1
"""


def parse_id(raw: bytes | str) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def pack_keys(keys: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(keys)}Q", *keys)


def unpack_keys(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // _KEY.size}Q", blob)


@dataclass(frozen=True)
class Tail:
    """What one read of the log returned."""

    keys: list[int]            # Bloom keys the other members recorded
    last: StreamId | None      # the id of the last entry read, None when there was none
    more: bool                 # the read was cut at its count: more entries may follow
    trimmed_below: StreamId    # the log may lack entries below this id
    own: list[StreamId]        # the ids of this member's own entries among those read


class GroupLog:
    APPEND_REPLIES = 2
    READ_REPLIES = 2

    def __init__(self, keys: GroupKeys, member: bytes, retention_ms: int,
                 read_count: int) -> None:
        self._keys = keys
        self._member = member
        self._retention_ms = retention_ms
        self._read_count = read_count
        self._write_script: Any = None

    def queue_append(self, pipe: Any, bloom_keys: Sequence[int]) -> None:
        """Replies: the new entry's id, then the PEXPIRE's."""
        pipe.execute_command("XADD", self._keys.log, "*", b"m", self._member,
                             b"k", pack_keys(bloom_keys))
        pipe.execute_command("PEXPIRE", self._keys.log, self._retention_ms)

    def queue_read(self, pipe: Any, after: StreamId) -> None:
        """The XREAD comes first: a trim that removed entries it should have returned happened
        before it, and ``trimmed`` was raised before that trim, so the GET after sees it."""
        pipe.xread({self._keys.log: format_id(after)}, count=self._read_count)
        pipe.get(self._keys.trimmed)

    def parse_read(self, replies: Sequence[Any]) -> Tail:
        streams, trimmed = replies
        entries = streams[0][1] if streams else []
        keys: list[int] = []
        own: list[StreamId] = []
        for entry_id, fields in entries:
            if fields.get(b"m") != self._member:
                keys.extend(unpack_keys(fields.get(b"k", b"")))
            else:
                own.append(parse_id(entry_id))
        return Tail(keys=keys,
                    last=parse_id(entries[-1][0]) if entries else None,
                    more=len(entries) >= self._read_count,
                    trimmed_below=parse_id(trimmed) if trimmed else ZERO, own=own)

    def load_snapshot(self, client: RedisClient, fingerprint: str) -> tuple[StreamId, bytes] | None:
        position, blob = client.hmget(self._keys.snapshot(fingerprint), ["position", "filter"])
        if position is None or not isinstance(blob, bytes):
            return None
        return parse_id(position), blob

    def claim_snapshot_turn(self, client: RedisClient, interval_ms: int) -> bool:
        """True for one member of the group per interval."""
        return bool(client.set(self._keys.snapshot_lock, self._member, nx=True, px=interval_ms))

    def write_snapshot(self, client: RedisClient, fingerprint: str, position: StreamId,
                       blob: bytes) -> bool:
        """False when the stored snapshot is already at or after ``position``."""
        if self._write_script is None:
            self._write_script = client.register_script(_WRITE_SNAPSHOT)
        keys = [self._keys.snapshot(fingerprint), self._keys.trimmed, self._keys.log]
        written = self._write_script(keys=keys, client=client,
                                     args=[format_id(position), blob, self._retention_ms])
        return bool(written)
