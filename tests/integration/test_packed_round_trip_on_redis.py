"""The done marks' round trip (``redis_packed.execute``) on a real Redis: a hand-packed SADD
of thousands of digests and ordinary commands in one round trip, replies in order; an error
reply raises and the client's next round trip still works."""

from __future__ import annotations

import pytest
import redis

from consumer.redis_conn import connect
from consumer.redis_keys import id_digests, ids_bytes
from consumer.redis_packed import FixedWidthSadd, execute

pytestmark = pytest.mark.integration


def test_a_packed_sadd_and_plain_commands_share_one_round_trip(redis_url, unique):
    client = connect(redis_url)
    key = f"packed-{unique}"
    digests = id_digests(ids_bytes([f"order-{i}" for i in range(5000)]))
    replies = execute(client, [FixedWidthSadd(key, digests, 12), ("PEXPIRE", key, 60_000),
                               ("SCARD", key)])
    assert replies == [5000, 1, 5000]
    assert client.smismember(key, [digests[0], digests[-1], b"x" * 12]) == [1, 1, 0]
    again = execute(client, [FixedWidthSadd(key, [*digests[:10], b"y" * 12], 12)])
    assert again == [1]   # only the new member was added
    client.close()


def test_an_error_reply_raises_and_the_client_goes_on(redis_url, unique):
    client = connect(redis_url)
    key = f"packed-{unique}"
    client.set(key, "a string, not a set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        execute(client, [FixedWidthSadd(key, [b"z" * 12], 12), ("GET", key)])
    assert execute(client, [("GET", key)]) == [b"a string, not a set"]
    client.close()
