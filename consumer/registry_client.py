"""A small, thread-safe client of a Confluent-compatible schema registry, for the runtime (writer
schemas by id, fetched once and kept) and for the CLI (register, lookup, checks, levels).

Failures are classified for the runtime: an id the registry says does not exist is a data
error (``UnknownSchemaError``); no answer, a timeout or a 5xx is ``RegistryUnavailable``
(wait and retry); any other refusal is ``RegistryError`` with Confluent's code."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import fastavro
import httpx

from .errors import DecodeError, RegistryError, RegistryUnavailable, UnknownSchemaError

MEDIA_V1 = "application/vnd.schemaregistry.v1+json"
_TRANSIENT_STATUSES = frozenset({408, 429})

# httpx logs every request at INFO: in the runtime's and the CLI's logs that is noise, and our
# own errors already say which request failed.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class WriterSchema:
    schema_id: int
    text: str
    definition: Any
    """The schema as JSON (dict, list or str)."""
    parsed: Any
    """fastavro's parsed form, ready for ``schemaless_reader``."""


@dataclass(frozen=True)
class Registered:
    schema_id: int
    version: int


class RegistryClient:
    def __init__(self, url: str, *, timeout_s: float = 5.0, unknown_id_ttl_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        # Unknown ids are remembered for a while so a burst of bad records is not a burst of
        # requests; not forever, since the id may be registered later (another registry?).
        self._unknown_id_ttl_s = unknown_id_ttl_s
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                  transport=transport or httpx.HTTPTransport(retries=1),
                                  headers={"Accept": f"{MEDIA_V1}, application/json"})
        self._schemas: dict[int, WriterSchema] = {}
        self._unknown_until: dict[int, float] = {}
        self._fetch_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the runtime's side ---------------------------------------------------------------
    def schema(self, schema_id: int) -> WriterSchema:
        """The writer schema with this id; one request per id for the life of the client."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        with self._fetch_lock:
            cached = self._schemas.get(schema_id)
            if cached is not None:
                return cached
            if self._unknown_until.get(schema_id, 0.0) > time.monotonic():
                raise UnknownSchemaError(f"schema id {schema_id} does not exist in {self.url}")
            fetched = self._fetch(schema_id)
            self._schemas[schema_id] = fetched
            return fetched

    def _fetch(self, schema_id: int) -> WriterSchema:
        try:
            body = self._call("GET", f"/schemas/ids/{schema_id}")
        except RegistryError as error:
            if error.error_code == 40403:
                self._unknown_until[schema_id] = time.monotonic() + self._unknown_id_ttl_s
                raise UnknownSchemaError(
                    f"schema id {schema_id} does not exist in {self.url}") from None
            # Any other refusal (auth, a wrong URL) says nothing about the message: wait.
            raise RegistryUnavailable(f"schema registry {self.url} refused schema {schema_id}: "
                                      f"{error}") from None
        schema_type = body.get("schemaType") or "AVRO"
        if schema_type != "AVRO":
            raise DecodeError(f"schema id {schema_id} is a {schema_type} schema, not Avro")
        text = body["schema"]
        try:
            definition = json.loads(text)
            parsed = fastavro.parse_schema(definition)
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} is not usable Avro: {exc}") from None
        return WriterSchema(schema_id, text, definition, parsed)

    # -- the CLI's side -------------------------------------------------------------------
    def register(self, subject: str, schema_text: str) -> Registered:
        body = self._call("POST", f"/subjects/{_segment(subject)}/versions",
                          json={"schema": schema_text, "schemaType": "AVRO"})
        if "version" in body:
            return Registered(int(body["id"]), int(body["version"]))
        # Registries before Confluent 7.4.1 (and Karapace) answer only the id.
        return Registered(int(body["id"]), int(self.lookup(subject, schema_text)["version"]))

    def lookup(self, subject: str, schema_text: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/subjects/{_segment(subject)}",
                               json={"schema": schema_text, "schemaType": "AVRO"}))

    def version(self, subject: str, version: int | str = "latest") -> dict[str, Any]:
        return dict(self._call("GET", f"/subjects/{_segment(subject)}/versions/{version}"))

    def versions(self, subject: str) -> list[int]:
        return list(self._call("GET", f"/subjects/{_segment(subject)}/versions"))

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects"))

    def check(self, subject: str, schema_text: str) -> list[str]:
        """Why the schema may not be registered under ``subject`` (empty: it may)."""
        body = self._call("POST", f"/compatibility/subjects/{_segment(subject)}/versions/latest",
                          params={"verbose": "true"},
                          json={"schema": schema_text, "schemaType": "AVRO"})
        if body.get("is_compatible"):
            return []
        return [str(m) for m in body.get("messages") or ["incompatible (no reason given)"]]

    def compatibility(self, subject: str) -> tuple[str, bool]:
        """The subject's level and whether it is its own (False: the global one applies)."""
        try:
            body = self._call("GET", f"/config/{_segment(subject)}")
            return str(body["compatibilityLevel"]), True
        except RegistryError as error:
            if error.status != 404:
                raise
        return str(self._call("GET", "/config")["compatibilityLevel"]), False

    def set_compatibility(self, subject: str, level: str) -> str:
        body = self._call("PUT", f"/config/{_segment(subject)}", json={"compatibility": level})
        return str(body["compatibility"])

    # -- transport ------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if "json" in kwargs:
            kwargs["headers"] = {"Content-Type": MEDIA_V1}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"schema registry {self.url} did not answer: "
                                      f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES:
            raise RegistryUnavailable(f"schema registry {self.url} answered "
                                      f"{response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise RegistryUnavailable(f"{self.url} answered {response.status_code} with a body "
                                      "that is not JSON: is it a schema registry?") from None
        if response.status_code >= 400:
            code = body.get("error_code", response.status_code) if isinstance(body, dict) else 0
            message = body.get("message", "") if isinstance(body, dict) else str(body)
            raise RegistryError(response.status_code, int(code), str(message))
        return body


def _segment(subject: str) -> str:
    return quote(subject, safe="")
