"""A span per message, continuing the producer's W3C ``traceparent`` header, so a handler's own
spans (from any OpenTelemetry tracer) nest under it.

The exporter comes from the standard ``OTEL_TRACES_EXPORTER`` (``console``, ``otlp`` or
``none``; default ``none``). Off, ``MessageTracer.enabled`` is False and ``span()`` hands back
one shared no-op context manager: the runtime asks once and skips the rest.

``span()`` works for sync handlers and inside coroutines (``with tracer.span(...): await
handler(msg)``); a coroutine scheduled from inside the ``with`` (``create_task``,
``run_coroutine_threadsafe``) copies the context, so its spans nest too.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .errors import ConfigError
from .logs import bind_message

ENV_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
DEFAULT_SERVICE_NAME = "consumer"
TRACE_HEADERS = ("traceparent", "tracestate")
Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes | None]]

_PROPAGATOR = TraceContextTextMapPropagator()
_OFF: AbstractContextManager[None] = nullcontext()


class _MessageSpan:
    __slots__ = ("_attributes", "_carrier", "_name", "_span", "_token", "_tracer")

    def __init__(self, tracer: trace.Tracer, name: str, carrier: dict[str, str],
                 attributes: dict[str, str | int]) -> None:
        self._tracer = tracer
        self._name = name
        self._carrier = carrier
        self._attributes = attributes

    def __enter__(self) -> Span:
        parent = _PROPAGATOR.extract(self._carrier) if self._carrier else None
        self._span = self._tracer.start_span(self._name, context=parent, kind=SpanKind.CONSUMER,
                                             attributes=self._attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self._span, parent))
        return self._span

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if error is not None:
            self._span.record_exception(error)
            self._span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        otel_context.detach(self._token)
        self._span.end()


class MessageTracer:
    """``provider`` None means tracing is off."""

    def __init__(self, provider: TracerProvider | None, group: str) -> None:
        self.enabled = provider is not None
        self.group = group
        self._provider = provider
        self._tracer = provider.get_tracer("consumer") if provider is not None else None

    def span(self, topic: str, partition: int, offset: int, message_id: str,
             headers: Headers | None = None) -> AbstractContextManager[Span | None]:
        """The processing span of one message; the handler runs inside the ``with``."""
        if self._tracer is None:
            return _OFF
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "messaging.message.id": message_id,
            "messaging.consumer.group.name": self.group,
        }
        return _MessageSpan(self._tracer, f"process {topic}", trace_carrier(headers), attributes)

    def close(self) -> None:
        """Flushes the spans still queued for export."""
        if self._provider is not None:
            self._provider.shutdown()


def instrumented(func: Callable[[Any], Any], is_async: bool,
                 tracer: MessageTracer) -> Callable[[Any], Any]:
    """The handler, called inside its message's span with the message bound to log lines;
    the handler itself when tracing is off (nothing added on the hot path)."""
    if not tracer.enabled:
        return func

    def span(message: Any) -> AbstractContextManager[Span | None]:
        return tracer.span(message.topic, message.partition, message.offset,
                           message.message_id, message.raw.headers())

    if is_async:
        async def call_async(message: Any) -> Any:
            with span(message), bind_message(message.topic, message.partition, message.offset,
                                             message.message_id):
                return await func(message)
        return call_async

    def call(message: Any) -> Any:
        with span(message), bind_message(message.topic, message.partition, message.offset,
                                         message.message_id):
            return func(message)
    return call


def trace_carrier(headers: Headers | None) -> dict[str, str]:
    """The W3C trace headers of a message, as text (Kafka header values are bytes)."""
    if not headers:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {name: value.decode("latin-1") for name, value in pairs
            if name in TRACE_HEADERS and value}


def tracer_from_env(group: str, environ: Mapping[str, str] = os.environ) -> MessageTracer:
    """Tracing as the standard OpenTelemetry variables ask. An SDK tracer provider the
    application set up itself is used as it is; otherwise ours becomes the global one, so
    handler spans export through the same exporters."""
    names = [name.strip().lower() for name in environ.get(ENV_TRACES_EXPORTER, "none").split(",")
             if name.strip()]
    if not names or names == ["none"]:
        return MessageTracer(None, group)
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return MessageTracer(existing, group)
    service = environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    trace.set_tracer_provider(provider)
    return MessageTracer(provider, group)


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ConfigError(f"{ENV_TRACES_EXPORTER}={name!r} is not supported: use console, "
                          f"otlp or none")
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    package = "grpc" if protocol == "grpc" else "http"
    try:
        module = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{package}"
                                         ".trace_exporter")
    except ImportError as exc:
        raise ConfigError(f"{ENV_TRACES_EXPORTER}=otlp ({protocol}) needs "
                          f"`pip install opentelemetry-exporter-otlp-proto-{package}`") from exc
    exporter: SpanExporter = module.OTLPSpanExporter()
    return exporter
