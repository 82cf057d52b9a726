"""The handler's own idempotency: the second layer under dedup. Dedup skips what was recorded
done; it cannot help when a process dies between a handler's side effect and the "done" mark,
because the message is then delivered and handled again. A side effect keyed on
``msg.message_id`` makes that second run harmless. Helpers for the usual side effects:

- a database row: ``consumer.upsert.UpsertSink`` (``INSERT ... ON CONFLICT DO UPDATE``) and
  ``consumer.upsert.ThreadLocalSqlite``;
- a file: ``write_file_once``, atomic, named after the message id or the content;
- an HTTP call: ``idempotent_request`` (and ``idempotent_request_async``), which sends an
  ``Idempotency-Key`` header the receiving API uses to apply the request once, and turns the
  answer into the handler contract's errors (retry later or dead-letter).

Example handler::

    from consumer.idempotency import idempotent_request, write_file_once

    def handle(msg: Message) -> None:
        write_file_once(RECEIPTS, render(msg.value), key=msg, suffix=".pdf")
        idempotent_request(http, "POST", "https://payments.example/charges", msg,
                           json={"order": msg.value["order_id"]})
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import httpx

from .constants import IDEMPOTENCY_KEY_HEADER
from .errors import PermanentError, TransientError
from .redis_keys import id_bytes

# 409: the same key is still being processed (IETF idempotency-key draft); the rest: the
# server or a proxy is overloaded or restarting.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class HasMessageId(Protocol):
    @property
    def message_id(self) -> str: ...


KeySource = str | HasMessageId


def idempotency_key(source: KeySource) -> str:
    """The message id of a ``Message`` (or the string given)."""
    key = source if isinstance(source, str) else source.message_id
    if not key:
        raise PermanentError("a message without an id cannot be handled idempotently")
    return key


def write_file_once(directory: str | Path, data: bytes, *, key: KeySource | None = None,
                    suffix: str = "") -> Path:
    """Writes ``data`` to ``directory`` under a name derived from ``key`` (SHA-256 of the
    message id) or, without a key, from the content (SHA-256 of ``data``), and returns the path.

    The write is atomic (temporary file, fsync, rename, fsync of the directory): a reader sees
    the whole file or none, and a crash leaves no partial file under the final name. Writing
    the same message twice leaves one file; content already present is not written again.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    source = id_bytes(idempotency_key(key)) if key is not None else data
    target = folder / (hashlib.sha256(source).hexdigest() + suffix)
    if key is None and target.exists():
        return target
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
    return target


def _headers(key: KeySource, extra: Any) -> dict[str, str]:
    return {**dict(extra or {}), IDEMPOTENCY_KEY_HEADER: idempotency_key(key)}


def _checked(method: str, url: str, response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status in RETRYABLE_STATUSES or status >= 500:
        raise TransientError(f"{method} {url}: HTTP {status}")
    if status >= 400:
        raise PermanentError(f"{method} {url}: HTTP {status}: {response.text[:200]}")
    return response


def idempotent_request(client: httpx.Client, method: str, url: str, key: KeySource,
                       **kwargs: Any) -> httpx.Response:
    """``client.request`` with an ``Idempotency-Key`` header. Returns a 1xx-3xx response;
    raises ``TransientError`` for network errors, timeouts and the statuses worth retrying,
    ``PermanentError`` for other 4xx (the request itself is wrong)."""
    headers = _headers(key, kwargs.pop("headers", None))
    try:
        response = client.request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise TransientError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    return _checked(method, url, response)


async def idempotent_request_async(client: httpx.AsyncClient, method: str, url: str,
                                   key: KeySource, **kwargs: Any) -> httpx.Response:
    """``idempotent_request`` for async handlers."""
    headers = _headers(key, kwargs.pop("headers", None))
    try:
        response = await client.request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise TransientError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    return _checked(method, url, response)
