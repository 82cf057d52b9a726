"""The registry's HTTP side: Confluent's media types, JSON error bodies for every failure
(including the ones ``http.server`` itself raises), request size limits, keep-alive, and a
clean stop on SIGTERM. What each route does is in ``registry_routes``."""

from __future__ import annotations

import json
import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import RegistryError
from .registry_api import Query
from .registry_routes import Routes
from .registry_store import RegistryStore

log = logging.getLogger("consumer.registry")

MEDIA_V1 = "application/vnd.schemaregistry.v1+json"
MEDIA_VND = "application/vnd.schemaregistry+json"
MEDIA_JSON = "application/json"
# Response types by preference; a request body may also come as octet-stream (no type given).
_RESPONSE_TYPES = (MEDIA_V1, MEDIA_VND, MEDIA_JSON)
_REQUEST_TYPES = frozenset({*_RESPONSE_TYPES, "application/octet-stream"})
MAX_BODY_BYTES = 8 * 1024 * 1024


def response_type(accept: str | None) -> str:
    """The preferred media type the client accepts; never a 406: clients sending odd Accept
    headers still get v1+json, as httpx's ``*/*`` does."""
    accepted = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    if not accept or accepted & {"*/*", "application/*"}:
        return MEDIA_V1
    return next((media for media in _RESPONSE_TYPES if media in accepted), MEDIA_V1)


class RegistryHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries a Content-Length
    server_version = "consumer-registry"
    timeout = 60  # an idle keep-alive connection frees its thread after this
    server: RegistryServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            body = self._read_body()
            found = self.server.routes.match(method, url.path)
            if found is None:
                raise RegistryError(404, 404, f"HTTP 404 Not Found: {url.path}")
            route, params = found
            result = route.handler(params, Query(parse_qs(url.query)), body)
            self._send(200, result if route.raw else json.dumps(result))
        except RegistryError as error:
            self._send(error.status, json.dumps({"error_code": error.error_code,
                                                 "message": str(error)}))
        except Exception:
            log.exception("unexpected error on %s %s", method, self.path)
            self._send(500, json.dumps({"error_code": 50001,
                                        "message": "Error in the backend data store"}))

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise RegistryError(411, 411, "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read, so the stream is out of step
            raise RegistryError(413, 413, f"request body over {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in _REQUEST_TYPES:
            raise RegistryError(415, 415, f"HTTP 415 Unsupported Media Type: {content_type} "
                                          f"(send {MEDIA_V1} or {MEDIA_JSON})")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(400, 400, f"request body is not valid JSON: {exc}") from None

    def _send(self, status: int, payload: str) -> None:
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", response_type(self.headers.get("Accept")))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (bad request line, URI or headers too long, unknown
        # method) get the same JSON error body as ours.
        self.close_connection = True
        body = json.dumps({"error_code": code, "message": message or self.responses.get(
            code, ("error",))[0]}).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", MEDIA_V1)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class RegistryServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: RegistryStore) -> None:
        super().__init__(address, RegistryHandler)
        self.routes = Routes(store)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def serve(host: str, port: int, data: Path) -> None:
    """Runs the registry until SIGTERM or SIGINT."""
    store = RegistryStore(data)
    server = RegistryServer((host, port), store)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return: call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("schema registry on %s, data in %s", server.url, data)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()
