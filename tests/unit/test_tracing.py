from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumer import tracing
from consumer.errors import ConfigError
from consumer.tracing import MessageTracer, trace_carrier, tracer_from_env

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def spans_by_name(exporter):
    return {span.name: span for span in exporter.get_finished_spans()}


def test_the_message_span_continues_the_producers_trace_with_kafka_attributes(exported):
    provider, exporter = exported
    tracer = MessageTracer(provider, "billing")
    with tracer.span("orders", 3, 1042, "order-7", {"traceparent": TRACEPARENT, "x": b"y"}):
        pass
    span = spans_by_name(exporter)["process orders"]
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None and span.parent.span_id == PARENT_SPAN_ID
    assert span.kind is SpanKind.CONSUMER
    assert dict(span.attributes) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "orders",
        "messaging.destination.partition.id": "3",
        "messaging.kafka.offset": 1042,
        "messaging.message.id": "order-7",
        "messaging.consumer.group.name": "billing",
    }


def test_without_traceparent_the_message_starts_a_new_trace(exported):
    provider, exporter = exported
    with MessageTracer(provider, "g").span("orders", 0, 1, "m", {}):
        pass
    span = spans_by_name(exporter)["process orders"]
    assert span.parent is None and span.context.trace_id != TRACE_ID


def test_a_malformed_traceparent_starts_a_new_trace(exported):
    provider, exporter = exported
    with MessageTracer(provider, "g").span("orders", 0, 1, "m", {"traceparent": b"garbage"}):
        pass
    assert spans_by_name(exporter)["process orders"].parent is None


def test_raw_kafka_header_pairs_work_too():
    assert trace_carrier([("traceparent", TRACEPARENT), ("tracestate", None), ("k", b"v")]) == {
        "traceparent": TRACEPARENT.decode()}


def test_a_sync_handlers_spans_nest_under_the_message_span(exported):
    provider, exporter = exported
    handler_tracer = provider.get_tracer("handler")
    message_span = MessageTracer(provider, "g").span("orders", 0, 5, "m",
                                                     {"traceparent": TRACEPARENT})
    with message_span, handler_tracer.start_as_current_span("write to db"):
        pass
    spans = spans_by_name(exporter)
    assert spans["write to db"].parent.span_id == spans["process orders"].context.span_id
    assert spans["write to db"].context.trace_id == TRACE_ID


def test_an_async_handlers_spans_nest_under_the_message_span(exported):
    provider, exporter = exported
    handler_tracer = provider.get_tracer("handler")
    tracer = MessageTracer(provider, "g")

    async def handler() -> None:
        await asyncio.sleep(0)
        with handler_tracer.start_as_current_span("call api"):
            await asyncio.sleep(0)

    async def run_one() -> None:
        with tracer.span("orders", 0, 5, "m", {"traceparent": TRACEPARENT}):
            await asyncio.gather(handler(), asyncio.create_task(handler()))

    asyncio.run(run_one())
    message = spans_by_name(exporter)["process orders"]
    calls = [s for s in exporter.get_finished_spans() if s.name == "call api"]
    assert len(calls) == 2
    assert all(call.parent.span_id == message.context.span_id for call in calls)


def test_a_coroutine_sent_to_a_loop_thread_from_inside_the_span_nests_too(exported):
    provider, exporter = exported
    handler_tracer = provider.get_tracer("handler")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def handler() -> None:
        with handler_tracer.start_as_current_span("call api"):
            await asyncio.sleep(0)

    with MessageTracer(provider, "g").span("orders", 0, 5, "m", {"traceparent": TRACEPARENT}):
        asyncio.run_coroutine_threadsafe(handler(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    spans = spans_by_name(exporter)
    assert spans["call api"].parent.span_id == spans["process orders"].context.span_id


def test_a_failing_handler_marks_the_span_and_records_the_exception(exported):
    provider, exporter = exported
    with pytest.raises(ValueError), MessageTracer(provider, "g").span("orders", 0, 5, "m"):
        raise ValueError("bad total")
    span = spans_by_name(exporter)["process orders"]
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_after_the_span_the_context_is_restored(exported):
    provider, _ = exported
    with MessageTracer(provider, "g").span("orders", 0, 5, "m", {"traceparent": TRACEPARENT}):
        pass
    assert not trace.get_current_span().get_span_context().is_valid


def test_off_by_default_and_then_one_shared_no_op():
    tracer = tracer_from_env("g", environ={})
    assert not tracer.enabled
    first = tracer.span("orders", 0, 1, "m", {"traceparent": TRACEPARENT})
    assert first is tracer.span("orders", 0, 2, "n")
    with first as span:
        assert span is None


def test_none_is_off():
    assert not tracer_from_env("g", environ={"OTEL_TRACES_EXPORTER": "none"}).enabled


def test_console_exporter_installs_a_global_provider(monkeypatch):
    installed = []
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    monkeypatch.setattr(tracing.trace, "set_tracer_provider", installed.append)
    tracer = tracer_from_env("g", environ={"OTEL_TRACES_EXPORTER": "console",
                                           "OTEL_SERVICE_NAME": "orders-consumer"})
    assert tracer.enabled
    [provider] = installed
    assert provider.resource.attributes["service.name"] == "orders-consumer"
    tracer.close()


def test_an_sdk_provider_the_application_set_is_reused(monkeypatch, exported):
    provider, _ = exported
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(tracing.trace, "set_tracer_provider", pytest.fail)
    assert tracer_from_env("g", environ={"OTEL_TRACES_EXPORTER": "console"}).enabled


def test_unknown_exporters_are_a_config_error(monkeypatch):
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    with pytest.raises(ConfigError, match="zipkin"):
        tracer_from_env("g", environ={"OTEL_TRACES_EXPORTER": "zipkin"})


def test_otlp_without_its_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())

    def missing(name: str):
        raise ImportError(name)

    monkeypatch.setattr(tracing.importlib, "import_module", missing)
    with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-grpc"):
        tracer_from_env("g", environ={"OTEL_TRACES_EXPORTER": "otlp",
                                      "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


class FakeRaw:
    def headers(self):
        return [("traceparent", TRACEPARENT)]


def fake_message():
    from types import SimpleNamespace
    return SimpleNamespace(topic="orders", partition=1, offset=5, message_id="o-1",
                           raw=FakeRaw())


def test_instrumented_handlers_run_inside_the_message_span_with_the_message_in_log_lines(
        exported, caplog):
    import logging

    from consumer.logs import context_fields
    provider, exporter = exported
    tracer = MessageTracer(provider, "g")
    seen = {}

    def handler(msg):
        record = logging.makeLogRecord({"msg": "inside"})
        seen.update(context_fields(record))
        with provider.get_tracer("handler").start_as_current_span("charge"):
            pass

    tracing.instrumented(handler, False, tracer)(fake_message())
    spans = spans_by_name(exporter)
    assert spans["charge"].parent.span_id == spans["process orders"].context.span_id
    assert spans["process orders"].context.trace_id == TRACE_ID
    assert seen["message_id"] == "o-1" and seen["trace_id"] == format(TRACE_ID, "032x")


def test_instrumented_async_handlers_too_and_off_means_the_handler_itself(exported):
    provider, exporter = exported

    async def handler(msg):
        with provider.get_tracer("handler").start_as_current_span("charge"):
            await asyncio.sleep(0)

    asyncio.run(tracing.instrumented(handler, True, MessageTracer(provider, "g"))(fake_message()))
    spans = spans_by_name(exporter)
    assert spans["charge"].parent.span_id == spans["process orders"].context.span_id
    assert tracing.instrumented(handler, True, MessageTracer(None, "g")) is handler
