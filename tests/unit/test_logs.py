from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from consumer.errors import ConfigError
from consumer.logs import bind_message, setup_logging


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield stream
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is stream:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_and_message(captured):
    setup_logging("json", "INFO", captured)
    logging.getLogger("consumer.runtime").info("started %d workers", 4)
    logging.getLogger("consumer.runtime").debug("not at INFO")
    [entry] = lines(captured)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "consumer.runtime"
    assert entry["message"] == "started 4 workers"
    assert entry["ts"].endswith("Z") and entry["ts"][10] == "T"
    assert "topic" not in entry and "trace_id" not in entry


def test_lines_name_the_bound_message_and_the_current_span(captured):
    setup_logging("json", "INFO", captured)
    tracer = TracerProvider().get_tracer("t")
    with bind_message("orders", 2, 99, "order-1"), tracer.start_as_current_span("s") as span:
        logging.getLogger("h").warning("slow call")
    [entry] = lines(captured)
    assert (entry["topic"], entry["partition"], entry["offset"], entry["message_id"]) == (
        "orders", 2, 99, "order-1")
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["span_id"] == format(span.get_span_context().span_id, "016x")
    logging.getLogger("h").warning("after")
    assert "topic" not in lines(captured)[-1]


def test_extra_fields_and_exceptions_are_kept(captured):
    setup_logging("json", "INFO", captured)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("h").exception("failed", extra={"offset": 5, "attempt": 2})
    [entry] = lines(captured)
    assert entry["offset"] == 5 and entry["attempt"] == 2
    assert "RuntimeError: boom" in entry["exception"]


def test_human_format_is_one_readable_line(captured):
    setup_logging("human", "INFO", captured)
    with bind_message("orders", 2, 99, "order-1"):
        logging.getLogger("consumer.runtime").info("dead-lettered")
    line = captured.getvalue().strip()
    assert line.endswith("INFO  consumer.runtime: dead-lettered [orders/2@99 id=order-1]")


def test_auto_is_json_when_not_a_terminal_and_setup_replaces_itself(captured):
    setup_logging("auto", "INFO", captured)
    setup_logging(None, None, captured)
    logging.getLogger("x").info("once")
    assert len(lines(captured)) == 1


def test_env_chooses_format_and_level(captured, monkeypatch):
    monkeypatch.setenv("CONSUMER_LOG_FORMAT", "human")
    monkeypatch.setenv("CONSUMER_LOG_LEVEL", "warning")
    setup_logging(stream=captured)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert "shown" in captured.getvalue() and "hidden" not in captured.getvalue()
    assert not captured.getvalue().startswith("{")


def test_bad_format_or_level_is_a_config_error(captured):
    with pytest.raises(ConfigError):
        setup_logging("xml", "INFO", captured)
    with pytest.raises(ConfigError):
        setup_logging("json", "LOUD", captured)
