"""The hand-packed SADD is byte for byte what redis-py would send for the same arguments."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from consumer.redis_packed import FixedWidthSadd


def redis_py_packing(*args: object) -> bytes:
    connection = redis.Connection()
    return b"".join(connection.pack_command(*args))


@given(key=st.text(min_size=1, max_size=40),
       members=st.lists(st.binary(min_size=12, max_size=12), min_size=1, max_size=50))
def test_the_packed_sadd_is_what_redis_py_packs(key, members):
    command = FixedWidthSadd(key, members, 12)
    assert command.packed() == redis_py_packing(*command.args())


def test_members_may_hold_the_protocols_own_bytes():
    members = [b"\r\n$12\r\n\x00\x00\x00\x00\x00", b"*3\r\n" + bytes(8)]
    assert FixedWidthSadd("k", members, 12).packed() == redis_py_packing("SADD", "k", *members)


def test_an_empty_sadd_is_refused_before_it_reaches_redis():
    with pytest.raises(ValueError):
        FixedWidthSadd("k", [], 12)
