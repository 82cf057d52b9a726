"""What each registry endpoint means, apart from HTTP: Confluent's rules for subjects,
versions, ids, deletes and compatibility checks, with its error codes. Every method returns
the JSON body of a 200 answer or raises ``RegistryError``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .avro_compat import DEFAULT_LEVEL, LEVELS, check_level
from .avro_schema import ParsedSchema, parse_schema
from .avro_types import AvroSchema
from .errors import InvalidSchemaError, RegistryError
from .registry_store import GLOBAL_CONFIG, RegistryStore, VersionRow

LATEST = -1
_MAX_VERSION = 2**31 - 1
_RESERVED_SUBJECTS = (GLOBAL_CONFIG, "__EMPTY")
SCHEMA_TYPE = "AVRO"


def fail(error_code: int, message: str) -> RegistryError:
    """Confluent's convention: the HTTP status is the first three digits of the code."""
    return RegistryError(int(str(error_code)[:3]), error_code, message)


@dataclass(frozen=True)
class Query:
    """Query parameters, read the way JAX-RS does: booleans case-insensitively, and what a
    parameter cannot be read as is its default, never an error."""

    params: Mapping[str, list[str]]

    def text(self, *names: str) -> str | None:
        for name in names:
            if self.params.get(name):
                return self.params[name][0]
        return None

    def flag(self, *names: str) -> bool:
        return (self.text(*names) or "").strip().lower() == "true"

    def number(self, name: str, default: int) -> int:
        try:
            return int(self.text(name) or default)
        except ValueError:
            return default


def parse_version(text: str) -> int:
    cleaned = text.strip()
    if cleaned.lower() == "latest":
        return LATEST
    if cleaned.isdigit() and 1 <= int(cleaned) <= _MAX_VERSION:
        return int(cleaned)
    raise fail(42202, f"The specified version '{text}' is not a valid version id. Allowed "
                      f"values are between [1, {_MAX_VERSION}] and the string \"latest\"")


def check_subject(subject: str) -> None:
    if not subject.strip() or subject in _RESERVED_SUBJECTS or any(
            ord(c) < 32 or ord(c) == 127 for c in subject):
        raise fail(42208, f"The specified subject '{subject}' is not a valid subject name")


def schema_from_body(body: Any) -> ParsedSchema:
    """The schema of a register, lookup or compatibility request; 42201 when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str) \
            or not body["schema"].strip():
        raise fail(42201, "Invalid schema: the body must be a JSON object with a non-empty "
                          "\"schema\" string")
    schema_type = body.get("schemaType") or SCHEMA_TYPE
    if not isinstance(schema_type, str) or schema_type.upper() != SCHEMA_TYPE:
        raise fail(42201, f"Invalid schema type {schema_type!r}: this registry serves AVRO only")
    if body.get("references"):
        raise fail(42201, "Invalid schema: schema references are not supported by this registry")
    try:
        return parse_schema(body["schema"])
    except InvalidSchemaError as exc:
        raise fail(42201, f"Invalid schema: {exc}") from None


@lru_cache(maxsize=4096)
def stored_tree(canonical: str) -> AvroSchema:
    # Stored schemas never change: parse each once for the compatibility checks.
    return parse_schema(canonical).root


def version_body(row: VersionRow) -> dict[str, Any]:
    return {"subject": row.subject, "version": row.version, "id": row.schema_id,
            "schemaType": SCHEMA_TYPE, "schema": row.schema}


class SubjectsApi:
    """Subjects, versions, registration, lookup and deletes."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    def level(self, subject: str | None = None) -> str:
        """The subject's compatibility level, else the global one, else BACKWARD."""
        return (subject and self.store.config(subject)) or self.store.config() or DEFAULT_LEVEL

    def subjects(self, query: Query) -> list[str]:
        deleted_only = query.flag("deletedOnly", "deleted_only")
        include_deleted = query.flag("deleted") or deleted_only
        prefix = query.text("subjectPrefix", "subject") or ""
        names = [name for name, live in self.store.subjects().items()
                 if name.startswith(prefix) and (include_deleted or live)
                 and not (deleted_only and live)]
        return _page(names, query)

    def versions(self, subject: str, query: Query) -> list[int]:
        deleted_only = query.flag("deletedOnly", "deleted_only")
        rows = self._visible(subject, include_deleted=query.flag("deleted") or deleted_only)
        return _page([r.version for r in rows if r.deleted or not deleted_only], query)

    def version(self, subject: str, version: str, query: Query) -> dict[str, Any]:
        return version_body(self.find(subject, version, include_deleted=query.flag("deleted")))

    def find(self, subject: str, version: str, *, include_deleted: bool) -> VersionRow:
        wanted = parse_version(version)
        rows = self._visible(subject, include_deleted=include_deleted)
        if wanted == LATEST:
            return rows[-1]
        for row in rows:
            if row.version == wanted:
                return row
        raise fail(40402, f"Version {wanted} not found.")

    def _visible(self, subject: str, *, include_deleted: bool) -> list[VersionRow]:
        rows = self.store.versions(subject, include_deleted=include_deleted)
        if not rows:
            raise fail(40401, f"Subject '{subject}' not found.")
        return rows

    def register(self, subject: str, body: Any) -> dict[str, Any]:
        check_subject(subject)
        parsed = schema_from_body(body)
        with self.store.transaction():
            live = self.store.versions(subject, include_deleted=False)
            for row in live:
                if row.schema == parsed.canonical:
                    return {"id": row.schema_id, "version": row.version}
            reasons = check_level(self.level(subject), parsed.root,
                                  [(r.version, stored_tree(r.schema)) for r in live])
            if reasons:
                raise fail(40901, "Schema being registered is incompatible with an earlier "
                                  f"schema for subject \"{subject}\", details: {reasons}")
            schema_id = self.store.add_schema(parsed.canonical)
            return {"id": schema_id, "version": self.store.add_version(subject, schema_id)}

    def lookup(self, subject: str, body: Any, query: Query) -> dict[str, Any]:
        rows = self._visible(subject, include_deleted=query.flag("deleted"))
        parsed = schema_from_body(body)
        for row in reversed(rows):
            if row.schema == parsed.canonical:
                return version_body(row)
        raise fail(40403, "Schema not found")

    def delete_subject(self, subject: str, query: Query) -> list[int]:
        with self.store.transaction():
            rows = self._visible(subject, include_deleted=True)
            live = [r.version for r in rows if not r.deleted]
            if query.flag("permanent"):
                if live:
                    raise fail(40405, f"Subject '{subject}' was not deleted first before being "
                                      "permanently deleted")
                self.store.hard_delete(subject, [r.version for r in rows])
                self.store.delete_config(subject)
                return [r.version for r in rows]
            if not live:
                raise fail(40404, f"Subject '{subject}' was soft deleted.Set permanent=true to "
                                  "delete permanently")
            self.store.soft_delete(subject, live)
            return live

    def delete_version(self, subject: str, version: str, query: Query) -> int:
        permanent = query.flag("permanent")
        wanted = parse_version(version)
        with self.store.transaction():
            rows = self._visible(subject, include_deleted=True)
            live = [r for r in rows if not r.deleted]
            # A soft delete of "latest" means the latest live version; a permanent one, the
            # latest kept (which must already be soft-deleted).
            row: VersionRow | None = ((rows if permanent or not live else live)[-1]
                                      if wanted == LATEST else
                                      next((r for r in rows if r.version == wanted), None))
            if row is None:
                raise fail(40402, f"Version {wanted} not found.")
            if permanent and not row.deleted:
                raise fail(40407, f"Subject '{subject}' Version {row.version} was not deleted "
                                  "first before being permanently deleted")
            if not permanent and row.deleted:
                raise fail(40406, f"Subject '{subject}' Version {row.version} was soft deleted."
                                  "Set permanent=true to delete permanently")
            (self.store.hard_delete if permanent else self.store.soft_delete)(subject, [row.version])
            return row.version


def _page(items: list[Any], query: Query) -> list[Any]:
    offset = max(query.number("offset", 0), 0)
    limit = query.number("limit", -1)
    return items[offset:] if limit < 0 else items[offset:offset + limit]


def valid_level(body: Any) -> str:
    level = body.get("compatibility") if isinstance(body, dict) else None
    if not isinstance(level, str) or level.strip().upper() not in LEVELS:
        raise fail(42203, "Invalid compatibility level. Valid values are "
                          + ", ".join(LEVELS).lower())
    return level.strip().upper()
