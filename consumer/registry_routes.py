"""The registry's routes: each (method, path) of the Confluent REST subset mapped to what it
does. Subject endpoints live in ``registry_api``; schemas by id, config, mode and the
compatibility checks are small enough to live here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .avro_compat import check_level
from .errors import RegistryError
from .registry_api import (
    LATEST,
    SCHEMA_TYPE,
    Query,
    SubjectsApi,
    check_subject,
    fail,
    parse_version,
    schema_from_body,
    stored_tree,
    valid_level,
)
from .registry_store import RegistryStore

Handler = Callable[[list[str], Query, Any], Any]
_MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    raw: bool = False
    """The answer is a schema's own JSON (``/schema`` routes), not a wrapped body."""


class Routes:
    def __init__(self, store: RegistryStore) -> None:
        self.store = store
        self.api = SubjectsApi(store)
        api = self.api
        seg = "([^/]+)"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/subjects", lambda p, q, b: api.subjects(q), False),
            ("GET", f"/subjects/{seg}/versions", lambda p, q, b: api.versions(p[0], q), False),
            ("POST", f"/subjects/{seg}/versions", lambda p, q, b: api.register(p[0], b), False),
            ("GET", f"/subjects/{seg}/versions/{seg}",
             lambda p, q, b: api.version(p[0], p[1], q), False),
            ("GET", f"/subjects/{seg}/versions/{seg}/schema",
             lambda p, q, b: api.find(p[0], p[1], include_deleted=q.flag("deleted")).schema, True),
            ("GET", f"/subjects/{seg}/versions/{seg}/referencedby", self._referenced_by, False),
            ("DELETE", f"/subjects/{seg}/versions/{seg}",
             lambda p, q, b: api.delete_version(p[0], p[1], q), False),
            ("POST", f"/subjects/{seg}", lambda p, q, b: api.lookup(p[0], b, q), False),
            ("DELETE", f"/subjects/{seg}", lambda p, q, b: api.delete_subject(p[0], q), False),
            ("GET", f"/schemas/ids/{seg}",
             lambda p, q, b: {"schema": self._schema(p[0]), "schemaType": SCHEMA_TYPE}, False),
            ("GET", f"/schemas/ids/{seg}/schema", lambda p, q, b: self._schema(p[0]), True),
            ("GET", f"/schemas/ids/{seg}/versions", self._schema_versions, False),
            ("GET", "/schemas/types", lambda p, q, b: [SCHEMA_TYPE], False),
            ("GET", "/config", lambda p, q, b: {"compatibilityLevel": api.level()}, False),
            ("PUT", "/config", self._put_config, False),
            ("GET", f"/config/{seg}", self._get_config, False),
            ("PUT", f"/config/{seg}", self._put_config, False),
            ("DELETE", f"/config/{seg}", self._delete_config, False),
            ("POST", f"/compatibility/subjects/{seg}/versions/{seg}", self._compatibility, False),
            ("POST", f"/compatibility/subjects/{seg}/versions", self._compatibility, False),
            ("GET", "/mode", lambda p, q, b: {"mode": "READWRITE"}, False),
            ("GET", f"/mode/{seg}", self._get_mode, False),
            ("PUT", "/mode", self._put_mode, False),
            ("PUT", f"/mode/{seg}", self._put_mode, False),
            ("GET", "/", lambda p, q, b: {}, False),
        ]
        self.table = [Route(m, re.compile(path.rstrip("/") + "/?"), h, raw)
                      for m, path, h, raw in table]

    def match(self, method: str, path: str) -> tuple[Route, list[str]] | None:
        """The route for ``path`` (``None``: no such path); ``RegistryError`` 405 when the
        path exists but not for ``method``."""
        allowed = False
        for route in self.table:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route, [unquote(group) for group in found.groups()]
            allowed = True
        if allowed:
            raise RegistryError(405, 405, f"HTTP 405 Method Not Allowed: {method} {path}")
        return None

    # -- schemas by id --------------------------------------------------------------------
    def _schema_id(self, text: str) -> int:
        if not text.isdigit():
            raise fail(40403, "Schema not found")
        return int(text)

    def _schema(self, text: str) -> str:
        schema = self.store.schema(self._schema_id(text))
        if schema is None:
            raise fail(40403, "Schema not found")
        return schema

    def _schema_versions(self, params: list[str], query: Query, body: Any) -> Any:
        self._schema(params[0])
        uses = self.store.uses_of(self._schema_id(params[0]),
                                  include_deleted=query.flag("deleted"))
        return [{"subject": subject, "version": version} for subject, version in uses]

    def _referenced_by(self, params: list[str], query: Query, body: Any) -> Any:
        self.api.find(params[0], params[1], include_deleted=False)
        return []  # references are refused at registration, so nothing refers to anything

    # -- compatibility levels and checks --------------------------------------------------
    def _get_config(self, params: list[str], query: Query, body: Any) -> Any:
        level = self.store.config(params[0])
        if level is None and query.flag("defaultToGlobal"):
            level = self.api.level()
        if level is None:
            raise fail(40408, f"Subject '{params[0]}' does not have subject-level "
                              "compatibility configured")
        return {"compatibilityLevel": level}

    def _put_config(self, params: list[str], query: Query, body: Any) -> Any:
        if params:
            check_subject(params[0])
        level = valid_level(body)
        self.store.set_config(level, *params)
        return {"compatibility": level}

    def _delete_config(self, params: list[str], query: Query, body: Any) -> Any:
        with self.store.transaction():
            level = self.store.config(params[0])
            if level is None:
                raise fail(40401, f"Subject '{params[0]}' not found.")
            self.store.delete_config(params[0])
        return {"compatibilityLevel": level}

    def _compatibility(self, params: list[str], query: Query, body: Any) -> Any:
        verbose = query.flag("verbose")
        wanted = parse_version(params[1]) if len(params) > 1 else LATEST
        subject = params[0]
        try:
            parsed = schema_from_body(body)
        except RegistryError as error:
            if verbose and error.error_code == 42201:
                return {"is_compatible": False, "messages": [str(error)]}
            raise
        live = self.store.versions(subject, include_deleted=False)
        level = self.api.level(subject)
        if wanted != LATEST:
            live = [row for row in live if row.version == wanted]
            if not live:
                raise fail(40402, f"Version {wanted} not found.")
            level = level.removesuffix("_TRANSITIVE")  # one named version: that one only
        reasons = check_level(level, parsed.root, [(r.version, stored_tree(r.schema))
                                                   for r in live])
        answer: dict[str, Any] = {"is_compatible": not reasons}
        if verbose:
            answer["messages"] = reasons
        return answer

    # -- mode: always READWRITE -----------------------------------------------------------
    def _get_mode(self, params: list[str], query: Query, body: Any) -> Any:
        if query.flag("defaultToGlobal"):
            return {"mode": "READWRITE"}
        raise fail(40409, f"Subject '{params[0]}' does not have subject-level mode configured")

    def _put_mode(self, params: list[str], query: Query, body: Any) -> Any:
        mode = body.get("mode") if isinstance(body, dict) else None
        if not isinstance(mode, str) or mode.upper() not in _MODES:
            raise fail(42204, "Invalid mode. Valid values are: " + ", ".join(_MODES))
        if mode.upper() != "READWRITE":
            raise fail(42205, "Operation not permitted: this registry only runs in READWRITE mode")
        return {"mode": "READWRITE"}

