"""Raw HTTP against the registry server, the way curl users of Confluent's docs talk to it:
every error is ``{"error_code", "message"}`` with Confluent's code, parameters read like
JAX-RS reads them, and no client mistake ever gets a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

V1 = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})
V2_NEEDS_B = json.dumps({"type": "record", "name": "R", "fields": [
    {"name": "a", "type": "int"}, {"name": "b", "type": "string"}]})
JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


@pytest.fixture
def http(registry_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_url, timeout=10, headers=JSON) as client:
        yield client


def code(answer: httpx.Response) -> tuple[int, int]:
    body = answer.json()
    assert set(body) == {"error_code", "message"}, body
    assert isinstance(body["message"], str) and body["message"]
    return answer.status_code, body["error_code"]


@pytest.fixture
def subject(http, unique) -> str:
    name = f"http-{unique}"
    assert http.post(f"/subjects/{name}/versions", json={"schema": V1}).json()["id"] > 0
    return name


def test_not_found_codes(http, subject, unique):
    assert code(http.get(f"/subjects/none-{unique}/versions")) == (404, 40401)
    assert code(http.get(f"/subjects/none-{unique}/versions/latest")) == (404, 40401)
    assert code(http.get(f"/subjects/{subject}/versions/7")) == (404, 40402)
    assert code(http.get("/schemas/ids/987654321")) == (404, 40403)
    assert code(http.get("/schemas/ids/not-a-number")) == (404, 40403)
    assert code(http.get("/schemas/ids/987654321/versions")) == (404, 40403)
    assert code(http.post(f"/subjects/none-{unique}", json={"schema": V1})) == (404, 40401)
    assert code(http.post(f"/subjects/{subject}", json={"schema": '"string"'})) == (404, 40403)
    assert code(http.get(f"/config/{subject}")) == (404, 40408)
    assert code(http.delete(f"/config/{subject}")) == (404, 40401)
    assert code(http.get(f"/mode/{subject}")) == (404, 40409)


@pytest.mark.parametrize("version", ["0", "-1", "2147483648", "abc", "1.5"])
def test_invalid_versions(http, subject, version):
    assert code(http.get(f"/subjects/{subject}/versions/{version}")) == (422, 42202)
    assert code(http.delete(f"/subjects/{subject}/versions/{version}")) == (422, 42202)
    assert code(http.post(f"/compatibility/subjects/{subject}/versions/{version}",
                          json={"schema": V1})) == (422, 42202)


@pytest.mark.parametrize("version", ["latest", "LATEST", " Latest ", "1"])
def test_version_spellings(http, subject, version):
    assert http.get(f"/subjects/{subject}/versions/{version}").json()["version"] == 1


@pytest.mark.parametrize(("schema", "message"), [
    ('{"type": "record", "name": "R", "fields": [{"name": "s", "type": "string", "default": null}]}',
     "invalid default for field 's'"),
    ('{"type": "record", "name": "R", "fields": [{"name": "n", "type": "int", "default": "1"}]}',
     "invalid default for field 'n'"),
    ('{"type": "record", "name": "R"}', '"fields" must be an array'),
    ("{broken", "not valid JSON"),
    ('"strin"', "undefined type name 'strin'"),
])
def test_invalid_schemas_are_42201_with_a_useful_message(http, unique, schema, message):
    answer = http.post(f"/subjects/bad-{unique}/versions", json={"schema": schema})
    assert code(answer) == (422, 42201)
    assert message in answer.json()["message"]
    assert code(http.get(f"/subjects/bad-{unique}/versions")) == (404, 40401)


def test_incompatible_registration_is_409_with_the_reason(http, subject):
    answer = http.post(f"/subjects/{subject}/versions", json={"schema": V2_NEEDS_B})
    assert answer.status_code == 409 and answer.json()["error_code"] in (409, 40901)
    assert "reader field 'b'" in answer.json()["message"]


def test_compatibility_answers_and_verbose_messages(http, subject, unique):
    path = f"/compatibility/subjects/{subject}/versions/latest"
    assert http.post(path, json={"schema": V2_NEEDS_B}).json() == {"is_compatible": False}
    verbose = http.post(path, params={"verbose": "True"}, json={"schema": V2_NEEDS_B}).json()
    assert verbose["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in verbose["messages"])
    assert http.post(path, params={"verbose": "true"}, json={"schema": V1}).json() == {
        "is_compatible": True, "messages": []}
    # An invalid schema: 42201, or with verbose the parse error as the reason.
    assert code(http.post(path, json={"schema": "{"})) == (422, 42201)
    broken = http.post(path, params={"verbose": "TRUE"}, json={"schema": "{"}).json()
    assert broken["is_compatible"] is False and "not valid JSON" in broken["messages"][0]
    # Confluent: latest of a subject that does not exist is compatible.
    assert http.post(f"/compatibility/subjects/none-{unique}/versions/latest",
                     json={"schema": V1}).json() == {"is_compatible": True}
    assert code(http.post(f"/compatibility/subjects/{subject}/versions/3",
                          json={"schema": V1})) == (404, 40402)


def test_invalid_levels_modes_and_subjects(http, subject):
    assert code(http.put(f"/config/{subject}", json={"compatibility": "SIDEWAYS"})) == (422, 42203)
    assert code(http.put("/config", json={})) == (422, 42203)
    assert http.put(f"/config/{subject}", json={"compatibility": "full"}).json() == {
        "compatibility": "FULL"}
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "FULL"}
    assert code(http.put("/mode", json={"mode": "SOMETIMES"})) == (422, 42204)
    assert code(http.put("/mode", json={"mode": "READONLY"})) == (422, 42205)
    assert code(http.post("/subjects/__GLOBAL/versions", json={"schema": V1})) == (422, 42208)


def test_delete_rules(http, unique):
    name = f"del-{unique}"
    http.post(f"/subjects/{name}/versions", json={"schema": V1})
    assert code(http.delete(f"/subjects/{name}", params={"permanent": "true"})) == (404, 40405)
    assert code(http.delete(f"/subjects/{name}/versions/1",
                            params={"permanent": "TRUE"})) == (404, 40407)
    assert http.delete(f"/subjects/{name}/versions/latest").json() == 1
    assert code(http.delete(f"/subjects/{name}/versions/1")) == (404, 40406)
    assert code(http.delete(f"/subjects/{name}")) == (404, 40404)
    assert http.get(f"/subjects/{name}/versions", params={"deleted": "true"}).json() == [1]
    assert http.get(f"/subjects/{name}/versions/1", params={"deleted": "true"}).json()["id"] > 0
    assert name in http.get("/subjects", params={"deleted": "True"}).json()
    assert name in http.get("/subjects", params={"deletedOnly": "true"}).json()
    assert name not in http.get("/subjects").json()
    assert http.delete(f"/subjects/{name}", params={"permanent": "true"}).json() == [1]
    assert code(http.delete(f"/subjects/{name}")) == (404, 40401)


def test_listing_filters_and_unknown_parameters(http, subject, unique):
    assert http.get("/subjects", params={"subjectPrefix": f"http-{unique}"}).json() == [subject]
    assert http.get("/subjects", params={"subject": f"http-{unique}", "offset": "0",
                                         "limit": "-1", "whatever": "x"}).json() == [subject]
    assert http.get(f"/subjects/{subject}/versions", params={"deleted": "false",
                                                             "deleted_only": "false",
                                                             "frobnicate": "1"}).json() == [1]
    raw = http.get(f"/subjects/{subject}/versions/1/schema")
    assert json.loads(raw.text) == json.loads(V1)
    schema_id = http.get(f"/subjects/{subject}/versions/1").json()["id"]
    assert json.loads(http.get(f"/schemas/ids/{schema_id}/schema").text) == json.loads(V1)
    assert {"subject": subject, "version": 1} in http.get(
        f"/schemas/ids/{schema_id}/versions").json()
    assert http.get(f"/subjects/{subject}/versions/1/referencedby").json() == []
    assert http.get("/schemas/types").json() == ["AVRO"]
    assert http.get("/mode").json() == {"mode": "READWRITE"}


def test_references_and_other_schema_types_are_refused_clearly(http, unique):
    refs = http.post(f"/subjects/refs-{unique}/versions", json={
        "schema": V1, "references": [{"name": "x.Y", "subject": "y", "version": 1}]})
    assert code(refs) == (422, 42201) and "references" in refs.json()["message"]
    proto = http.post(f"/subjects/refs-{unique}/versions",
                      json={"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"})
    assert code(proto) == (422, 42201) and "AVRO" in proto.json()["message"]


methods = st.sampled_from(["GET", "POST", "PUT", "DELETE"])
segments = st.sampled_from(["subjects", "versions", "schemas", "ids", "config", "mode",
                            "compatibility", "latest", "1", "0", "-3", "schema", "%2F", "%00",
                            "x" * 300, "types", "referencedby", "associations"])
bodies = st.one_of(st.none(), st.binary(max_size=40),
                   st.sampled_from([b"{}", b"[]", b"null", b'{"schema": 1}',
                                    b'{"schema": "{\\"type\\": \\"map\\"}"}',
                                    b'{"compatibility": 7}', b'{"mode": []}',
                                    b'{"schema": "\\"int\\"", "schemaType": 3}']))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=methods, path=st.lists(segments, min_size=1, max_size=6), body=bodies,
       flag=st.sampled_from(["", "?permanent=true", "?verbose=TRUE&deleted=1", "?limit=x"]))
def test_no_request_gets_a_server_error(http, method, path, body, flag):
    answer = http.request(method, "/" + "/".join(path) + flag, content=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        code(answer)
