"""The idempotency toolkit's file and HTTP helpers: a file written twice is one file, written
atomically; an HTTP call carries the message id as its Idempotency-Key and its answer maps onto
the handler contract (retry later or dead-letter)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import ClassVar

import httpx
import pytest

from consumer.errors import PermanentError, TransientError
from consumer.idempotency import (
    idempotency_key,
    idempotent_request,
    idempotent_request_async,
    write_file_once,
)
from consumer.services import free_port

MSG = SimpleNamespace(message_id="order-17")


def test_the_key_is_the_message_id_or_the_string_given():
    assert idempotency_key(MSG) == "order-17"
    assert idempotency_key("abc") == "abc"
    with pytest.raises(PermanentError):
        idempotency_key(SimpleNamespace(message_id=""))


def test_a_message_written_twice_is_one_file_with_the_last_content(tmp_path):
    first = write_file_once(tmp_path / "out", b"receipt v1", key=MSG, suffix=".txt")
    second = write_file_once(tmp_path / "out", b"receipt v1", key=MSG, suffix=".txt")
    assert first == second
    assert os.listdir(tmp_path / "out") == [first.name]
    assert first.read_bytes() == b"receipt v1"
    assert first.name.endswith(".txt") and "order-17" not in first.name


def test_content_addressed_writes_name_files_by_their_bytes(tmp_path):
    a = write_file_once(tmp_path, b"same bytes")
    b = write_file_once(tmp_path, b"same bytes")
    c = write_file_once(tmp_path, b"other bytes")
    assert a == b != c
    assert sorted(os.listdir(tmp_path)) == sorted([a.name, c.name])


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temporary_one(tmp_path):
    with pytest.raises(TypeError):
        write_file_once(tmp_path, "not bytes", key=MSG)          # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


class Recorder(BaseHTTPRequestHandler):
    """Answers with the status in the path (/status/503) and keeps each request's headers."""

    requests: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        Recorder.requests.append(dict(self.headers))
        status = int(self.path.rsplit("/", 1)[-1])
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_request_carries_the_message_id_as_idempotency_key(server):
    with httpx.Client() as client:
        response = idempotent_request(client, "POST", f"{server}/status/201", MSG,
                                      json={"amount": 5}, headers={"X-Trace": "t1"})
    assert response.status_code == 201
    sent = Recorder.requests[0]
    assert sent["Idempotency-Key"] == "order-17"
    assert sent["X-Trace"] == "t1"


@pytest.mark.parametrize("status, error", [(409, TransientError), (429, TransientError),
                                           (503, TransientError), (400, PermanentError),
                                           (422, PermanentError)])
def test_statuses_map_onto_retry_or_dead_letter(server, status, error):
    with httpx.Client() as client, pytest.raises(error, match=str(status)):
        idempotent_request(client, "POST", f"{server}/status/{status}", MSG)


def test_an_unreachable_service_is_transient():
    with httpx.Client(timeout=1) as client, pytest.raises(TransientError):
        idempotent_request(client, "POST", f"http://127.0.0.1:{free_port()}/x", MSG)


def test_the_async_variant_sends_the_same_header(server):
    async def call() -> int:
        async with httpx.AsyncClient() as client:
            response = await idempotent_request_async(client, "POST",
                                                      f"{server}/status/200", "key-9")
            return response.status_code

    assert asyncio.run(call()) == 200
    assert Recorder.requests[0]["Idempotency-Key"] == "key-9"
