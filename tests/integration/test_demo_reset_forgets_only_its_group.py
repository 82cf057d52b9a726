"""Starting the demo afresh deletes, in a real Redis, every key the runtime keeps for the demo's
group (sharded or not) and nothing of any other group, even one whose name it prefixes."""

from __future__ import annotations

import pytest
import redis

from consumer.demo_setup import forget_group_state

pytestmark = pytest.mark.integration


def test_only_the_groups_own_keys_go(redis_url, unique):
    group = f"demo[{unique}]*"  # glob characters must match literally
    client = redis.Redis.from_url(redis_url)
    own = [f"consumer:{{{group}}}:dedup:done:1", f"consumer:{{{group}}}:dedup:log",
           f"consumer:{{{group}}}:attempts:orders:0", f"consumer:{{{group}#3}}:dedup:done:1"]
    others = [f"consumer:{{{group}x}}:dedup:log", f"consumer:{{demo[{unique}]}}:dedup:log",
              f"consumer:{{other-{unique}}}:attempts:orders:0", f"unrelated:{{{group}}}:x"]
    try:
        for key in own + others:
            client.set(key, b"1")
        assert forget_group_state(redis_url, group) == len(own)
        assert client.exists(*own) == 0
        assert client.exists(*others) == len(others)
        assert forget_group_state(redis_url, group) == 0
    finally:
        client.delete(*own, *others)
        client.close()
