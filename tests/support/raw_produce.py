"""Producing records the way a client with byte-string header names does (Go's Sarama and
franz-go take any bytes): librdkafka's Python client only sends header names that are str, so
this writes a Produce request (v3, one record batch v2, no compression) on a socket itself.
Used to put header names that are not UTF-8 on a topic."""

from __future__ import annotations

import socket
import struct
import time

RawHeader = tuple[bytes, bytes | None]
RawRecord = tuple[bytes | None, bytes | None, list[RawHeader]]

PRODUCE_API, PRODUCE_VERSION = 0, 3


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(n: int) -> bytes:
    """Kafka's zigzag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _sized(data: bytes | None) -> bytes:
    return varint(-1) if data is None else varint(len(data)) + data


def record_batch(records: list[RawRecord], timestamp_ms: int) -> bytes:
    body = bytearray()
    for delta, (key, value, headers) in enumerate(records):
        record = b"\x00" + varint(0) + varint(delta) + _sized(key) + _sized(value)
        record += varint(len(headers)) + b"".join(_sized(k) + _sized(v) for k, v in headers)
        body += varint(len(record)) + record
    # attributes, last offset delta, first/max timestamp, producer id/epoch, base sequence
    after_crc = struct.pack(">hiqqqhii", 0, len(records) - 1, timestamp_ms, timestamp_ms,
                            -1, -1, -1, len(records)) + bytes(body)
    # partition leader epoch, magic 2, CRC-32C of what follows
    after_length = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def produce_raw(bootstrap: str, topic: str, partition: int,
                records: list[RawRecord]) -> list[int]:
    """Writes ``records`` as one batch with acks=all to the broker at ``bootstrap`` (the
    partition's leader: a single-broker cluster) and returns their offsets."""
    batch = record_batch(records, int(time.time() * 1000))
    request = struct.pack(">hhi", PRODUCE_API, PRODUCE_VERSION, 1) + _string("raw-produce")
    request += struct.pack(">hhi", -1, -1, 10_000)        # no transactional id, acks, timeout
    request += struct.pack(">i", 1) + _string(topic)
    request += struct.pack(">iii", 1, partition, len(batch)) + batch
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), 10) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        response = _read(sock, struct.unpack(">i", _read(sock, 4))[0])
    # correlation id, one topic (name), one partition: index, error code, base offset
    name_length = struct.unpack_from(">h", response, 8)[0]
    _, error, base = struct.unpack_from(">ihq", response, 10 + name_length + 4)
    assert error == 0, f"the broker refused the batch: error code {error}"
    return [base + delta for delta in range(len(records))]


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the broker closed the connection"
        data += chunk
    return data
