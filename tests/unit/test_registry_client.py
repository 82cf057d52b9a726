"""How the registry client classifies answers, caches schemas by id, and talks to a registry
that answers only the id on registration, against a scripted HTTP transport."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from consumer.errors import RegistryError, RegistryUnavailable, UnknownSchemaError
from consumer.registry_client import RegistryClient

SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


def client_for(handler) -> RegistryClient:
    return RegistryClient("http://registry.test/", transport=httpx.MockTransport(handler))


def test_schema_by_id_is_fetched_once_even_from_many_threads():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"schema": SCHEMA})

    client = client_for(handler)
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.schema(3)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["/schemas/ids/3"]
    assert {id(r) for r in results} == {id(results[0])}
    assert results[0].definition["name"] == "R" and results[0].parsed["name"] == "R"


def test_unknown_id_is_a_data_error_remembered_for_a_while():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})

    client = client_for(handler)
    for _ in range(3):
        with pytest.raises(UnknownSchemaError, match="schema id 5"):
            client.schema(5)
    assert len(calls) == 1


@pytest.mark.parametrize("answer", [
    httpx.Response(500, json={"error_code": 50001, "message": "store error"}),
    httpx.Response(503, text="unavailable"),
    httpx.Response(429, text="slow down"),
    httpx.Response(404, text="<html>not a registry</html>"),
    httpx.Response(401, json={"error_code": 40101, "message": "Unauthorized"}),
    httpx.Response(404, json={"error_code": 404, "message": "HTTP 404 Not Found"}),
])
def test_answers_that_say_nothing_about_the_message_are_transient(answer):
    client = client_for(lambda request: answer)
    with pytest.raises(RegistryUnavailable):
        client.schema(1)


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"),
                                     httpx.ReadTimeout("slow")])
def test_no_answer_is_transient(failure):
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(RegistryUnavailable, match=type(failure).__name__):
        client_for(handler).schema(1)


def test_a_registry_that_is_not_there_is_transient():
    client = RegistryClient("http://127.0.0.1:9", timeout_s=1.0)
    with pytest.raises(RegistryUnavailable, match="did not answer"):
        client.schema(1)


def test_refusals_carry_confluents_code():
    client = client_for(lambda request: httpx.Response(
        422, json={"error_code": 42201, "message": "Invalid schema: nope"}))
    with pytest.raises(RegistryError) as caught:
        client.register("s", "{}")
    assert (caught.value.status, caught.value.error_code) == (422, 42201)
    assert str(caught.value) == "Invalid schema: nope"


def test_register_finds_the_version_when_the_registry_answers_only_the_id():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.raw_path.decode(), request.headers["content-type"]))
        if request.url.path.endswith("/versions"):
            return httpx.Response(200, json={"id": 4})
        return httpx.Response(200, json={"subject": "a/b", "version": 2, "id": 4,
                                         "schema": SCHEMA})

    registered = client_for(handler).register("a/b", SCHEMA)
    assert (registered.schema_id, registered.version) == (4, 2)
    assert seen == [("POST", "/subjects/a%2Fb/versions", "application/vnd.schemaregistry.v1+json"),
                    ("POST", "/subjects/a%2Fb", "application/vnd.schemaregistry.v1+json")]


def test_compatibility_falls_back_to_the_global_level():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config/s":
            return httpx.Response(404, json={"error_code": 40408, "message": "no config"})
        return httpx.Response(200, json={"compatibilityLevel": "FULL"})

    assert client_for(handler).compatibility("s") == ("FULL", False)


def test_check_returns_the_reasons():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["verbose"] == "true"
        return httpx.Response(200, json={"is_compatible": False, "messages": ["x broke"]})

    assert client_for(handler).check("s", SCHEMA) == ["x broke"]
