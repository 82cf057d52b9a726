"""The registry's HTTP layer, on an in-process server: media types, size limits, JSON error
bodies for every refusal (http.server's own too), keep-alive."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from consumer.registry_server import MAX_BODY_BYTES, MEDIA_V1, RegistryServer, response_type
from consumer.registry_store import RegistryStore


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = RegistryStore(tmp_path_factory.mktemp("registry") / "r.db")
    running = RegistryServer(("127.0.0.1", 0), store)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    store.close()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


@pytest.mark.parametrize(("accept", "expected"), [
    (None, MEDIA_V1),
    ("*/*", MEDIA_V1),
    ("application/json", "application/json"),
    ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json"),
    ("application/json; q=0.5, application/vnd.schemaregistry.v1+json", MEDIA_V1),
    ("text/html", MEDIA_V1),
])
def test_response_media_type(accept, expected):
    assert response_type(accept) == expected


def test_answers_carry_the_negotiated_type(http):
    assert http.get("/subjects").headers["content-type"] == MEDIA_V1
    answer = http.get("/subjects", headers={"Accept": "application/json"})
    assert answer.headers["content-type"] == "application/json"


@pytest.mark.parametrize("content_type", [MEDIA_V1, "application/vnd.schemaregistry+json",
                                          "application/json", "application/octet-stream",
                                          "application/json; charset=utf-8"])
def test_request_bodies_in_every_json_type(http, content_type):
    answer = http.post("/subjects/types-test/versions", content=json.dumps({"schema": '"int"'}),
                       headers={"Content-Type": content_type})
    assert answer.status_code == 200 and "id" in answer.json()


def _error(answer: httpx.Response) -> tuple[int, int]:
    body = answer.json()
    assert set(body) == {"error_code", "message"} and body["message"]
    return answer.status_code, body["error_code"]


def test_form_bodies_are_415(http):
    answer = http.post("/subjects/s/versions", content=b"schema=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert _error(answer) == (415, 415)


def test_malformed_json_is_400(http):
    answer = http.post("/subjects/s/versions", content=b'{"schema": ',
                       headers={"Content-Type": MEDIA_V1})
    assert _error(answer) == (400, 400)


def test_oversized_bodies_are_refused_unread(http):
    big = b'{"schema": "' + b" " * (MAX_BODY_BYTES + 1) + b'"}'
    answer = http.post("/subjects/s/versions", content=big, headers={"Content-Type": MEDIA_V1})
    assert _error(answer) == (413, 413)


def test_unknown_paths_and_methods(http):
    assert _error(http.get("/associations/resources/-/orders",
                           params={"resourceType": "topic"})) == (404, 404)
    assert _error(http.put("/subjects")) == (405, 405)
    assert _error(http.request("PATCH", "/subjects")) == (501, 501)


def test_http_servers_own_refusals_are_json(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = raw.makefile("rb").read().decode()
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 414") or head.startswith("HTTP/1.0 414")
    assert json.loads(body)["error_code"] == 414


def test_one_connection_serves_many_requests(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as raw:
        reader = raw.makefile("rb")
        for _ in range(3):
            raw.sendall(b"GET /schemas/types HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert json.loads(reader.read(length)) == ["AVRO"]
