"""Avro orders as planned records (streams.py): good ones in the Confluent wire format with the
schemas registered in a registry, and the ways a value can be bad (wrong magic byte, truncated
body, an unknown schema id, plain garbage), each with the dead letter it must become."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from consumer.avro_codec import AvroEncoder
from consumer.registry_client import RegistryClient

from .orders import SCHEMAS, order_v1, order_v2, schema
from .streams import Planned, data_error

UNKNOWN_SCHEMA_ID = 987_654


def _planned(key: bytes | None, value: bytes | None, message_id: str, label: str,
             bad: str | None = None) -> Planned:
    return Planned(key, value, [("message-id", message_id.encode())], message_id,
                   data_error(bad) if bad else None, label)


@dataclass(frozen=True)
class OrderEncoders:
    """Encoders for orders-v1 and orders-v2, registered under one subject."""

    v1: AvroEncoder
    v2: AvroEncoder

    @classmethod
    def register(cls, registry_url: str, subject: str) -> OrderEncoders:
        with RegistryClient(registry_url) as client:
            ids = [client.register(subject, (SCHEMAS / f"orders-v{v}.avsc").read_text())
                   .schema_id for v in (1, 2)]
        return cls(AvroEncoder(ids[0], schema(1)), AvroEncoder(ids[1], schema(2)))

    def good_v1(self, n: int, prefix: str = "o") -> Planned:
        return _planned(f"c{n % 50}".encode(), self.v1.encode(order_v1(n)), f"{prefix}{n}",
                        "good v1")

    def good_v2(self, n: int, prefix: str = "o") -> Planned:
        return _planned(f"c{n % 50}".encode(), self.v2.encode(order_v2(n)), f"{prefix}{n}",
                        "good v2")

    def truncated(self, n: int, rnd: random.Random, prefix: str = "bad") -> Planned:
        whole = self.v2.encode(order_v2(n))
        return _planned(f"c{n % 50}".encode(), whole[:rnd.randrange(6, len(whole) - 1)],
                        f"{prefix}{n}", "truncated Avro", "DecodeError")

    def wrong_magic(self, n: int, prefix: str = "bad") -> Planned:
        whole = self.v1.encode(order_v1(n))
        return _planned(f"c{n % 50}".encode(), b"\x01" + whole[1:], f"{prefix}{n}",
                        "wrong magic byte", "FramingError")

    def unknown_schema(self, n: int, prefix: str = "bad") -> Planned:
        body = self.v1.encode(order_v1(n))[5:]
        value = b"\x00" + struct.pack(">I", UNKNOWN_SCHEMA_ID) + body
        return _planned(f"c{n % 50}".encode(), value, f"{prefix}{n}", "unknown schema id",
                        "UnknownSchemaError")


def garbage(n: int, rnd: random.Random, size: int, prefix: str = "bad") -> Planned:
    """Random bytes that do not start with the magic byte: a framing error."""
    value = bytes([rnd.randrange(1, 256)]) + rnd.randbytes(size - 1)
    return _planned(f"g{n}".encode(), value, f"{prefix}{n}", "random bytes", "FramingError")
