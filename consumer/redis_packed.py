"""One Redis round trip whose biggest command we pack ourselves: the done marks' SADD, which
carries every id of a batch.

redis-py packs a command argument by argument (~0.16 µs an argument with hiredis, measured),
so a SADD of 2,000 digests cost the member ~0.3 ms. Sending them as one blob that a Lua script
splits moved the cost to Redis instead: ~0.25 µs an id more than a plain SADD, about a quarter
of Redis's work per message, and Redis is the one process every member of a group shares.
Digests have one width, so the whole SADD packs with a single ``join`` (~7 ns an id) and Redis
runs a plain SADD (bench/RESULTS.md, "Redis per message").

A Redis Cluster client goes through its own pipeline (it routes each command to its node), with
the members as ordinary arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.cluster import RedisCluster

from .redis_conn import RedisClient


class FixedWidthSadd:
    """``SADD key member...`` where every member is ``width`` bytes long (not checked: a
    shorter one would corrupt the request, so only hash digests go here)."""

    __slots__ = ("key", "members", "width")

    def __init__(self, key: str, members: list[bytes], width: int) -> None:
        if not members:
            raise ValueError("SADD needs at least one member")
        self.key = key
        self.members = members
        self.width = width

    def args(self) -> tuple[Any, ...]:
        return ("SADD", self.key, *self.members)

    def packed(self) -> bytes:
        key = self.key.encode()
        head = b"*%d\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n$%d\r\n" % (
            len(self.members) + 2, len(key), key, self.width)
        return b"".join((head, (b"\r\n$%d\r\n" % self.width).join(self.members), b"\r\n"))


Command = tuple[Any, ...] | FixedWidthSadd


def execute(client: RedisClient, commands: Sequence[Command]) -> list[Any]:
    """Sends ``commands`` in one round trip, as a pipeline without a transaction would, and
    returns their raw replies in order. An error reply raises ``redis.ResponseError`` (and the
    connection is dropped, its later replies unread); a broken connection is retried as the
    client's other commands are (``redis_conn``)."""
    if isinstance(client, RedisCluster):
        pipe = client.pipeline()
        for command in commands:
            pipe.execute_command(*(command.args() if isinstance(command, FixedWidthSadd)
                                   else command))
        return list(pipe.execute())
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        chunks: list[bytes] = []
        for command in commands:
            if isinstance(command, FixedWidthSadd):
                chunks.append(command.packed())
            else:
                chunks.extend(connection.pack_command(*command))

        def round_trip() -> list[Any]:
            connection.send_packed_command(chunks)
            return [connection.read_response() for _ in commands]

        replies: list[Any] = connection.retry.call_with_retry(
            round_trip, lambda _error: connection.disconnect())
        return replies
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
