"""A stream of ids sent two or three times each, at different offsets, as retrying producers
and at-least-once upstreams send them."""

from __future__ import annotations

import random

from .kafka import Record


def duplicated_stream(ids: int, seed: int, cross_key_share: float = 0.1) -> list[Record]:
    """Each of ``ids`` ids two or three times, copies spread over the stream. Most copies keep
    their key (same partition, as a producer retry does); ``cross_key_share`` of them carry
    another key, so they land on another partition, maybe another member."""
    rnd = random.Random(seed)
    records: list[Record] = []
    for i in range(ids):
        for copy in range(rnd.choice((2, 3))):
            key = f"k{i}" if copy == 0 or rnd.random() > cross_key_share else f"x{rnd.random()}"
            records.append((key.encode(), b'{"id": %d}' % i, {"message-id": f"id-{i}".encode()}))
    rnd.shuffle(records)
    return records
