"""Settings of ``consumer run``: one table of options drives the flags, the environment names
and the TOML keys, so the three can't drift. Precedence: flags > env > TOML > defaults.
Everything is parsed and validated once, at start-up; a bad value is a ``ConfigError``."""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .constants import (
    CATEGORIES,
    DEFAULT_ID_HEADER,
    DEFAULT_METRICS_PORT,
    DLQ_TOPIC_SUFFIX,
    ENV_BOOTSTRAP,
    ENV_REDIS,
    ENV_REGISTRY,
)
from .errors import ConfigError
from .timestamps import parse_time_ms

ORDERINGS = ("key", "partition", "unordered")
VALUE_FORMATS = ("avro", "json", "bytes")
REDIS_DOWN_POLICIES = ("pause", "continue")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


def _bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


@dataclass(frozen=True)
class Option:
    flag: str                      # without the leading dashes
    attr: str                      # the Settings field
    parse: Callable[[str], Any]
    help: str
    choices: tuple[str, ...] | None = None
    env: str | None = None         # default: CONSUMER_<FLAG>
    boolean: bool = False

    @property
    def env_name(self) -> str:
        return self.env or "CONSUMER_" + self.flag.upper().replace("-", "_")

    @property
    def toml_key(self) -> str:
        return self.flag.replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("topic", "topic", str, "the topic to consume (one per process)"),
    Option("group", "group", str, "the consumer group id"),
    Option("handler", "handler", str, "the handler, package.module:function (sync or async)"),
    Option("bootstrap", "bootstrap", str, "Kafka bootstrap servers", env=ENV_BOOTSTRAP),
    Option("registry", "registry", str, "schema registry URL", env=ENV_REGISTRY),
    Option("redis", "redis", str, "Redis URL (dedup, attempt counts)", env=ENV_REDIS),
    Option("dlq-topic", "dlq_topic", str, "dead-letter topic (default <topic>.dlq)"),
    Option("metrics-port", "metrics_port", _non_negative_int,
           f"port of /metrics, /healthz, /readyz (default {DEFAULT_METRICS_PORT}; 0 = off)"),
    Option("concurrency", "concurrency", _positive_int, "handler calls in flight (default 16)"),
    Option("ordering", "ordering", str, "ordering guarantee (default key)", ORDERINGS),
    Option("max-attempts", "max_attempts", _positive_int,
           "attempts before a failing message is dead-lettered (default 5)"),
    Option("id-header", "id_header", str, f"header holding the message id ({DEFAULT_ID_HEADER})"),
    Option("id-field", "id_field", str, "record field holding the message id"),
    Option("reader-schema", "reader_schema", str, "Avro reader schema file (.avsc)"),
    Option("value-format", "value_format", str, "value encoding (default avro)", VALUE_FORMATS),
    Option("processes", "processes", _positive_int, "member processes to run (default 1)"),
    Option("shutdown-timeout", "shutdown_timeout_s", _positive_float,
           "seconds to drain on SIGTERM (default 30)"),
    Option("from-time", "from_time_ms", parse_time_ms, "backfill from this time (ISO-8601/ms)"),
    Option("until-time", "until_time_ms", parse_time_ms, "backfill until this time, then exit"),
    Option("max-buffered", "max_buffered", _positive_int,
           "messages held in memory before fetching pauses (default 10000)"),
    Option("batch-size", "batch_size", _positive_int, "messages per consume call (default 4000)"),
    Option("dedup", "dedup", _bool, "drop messages whose id is already done (default on)",
           boolean=True),
    Option("dedup-window", "dedup_window_s", _positive_float,
           "seconds a done id is remembered (default 3600)"),
    Option("dedup-capacity", "dedup_capacity", _positive_int,
           "ids the group records per dedup window, to size the Bloom filter (default 1000000)"),
    Option("redis-down", "redis_down", str,
           "when Redis is down: pause consumption, or continue without dedup (default pause)",
           REDIS_DOWN_POLICIES),
    Option("retry-backoff-ms", "retry_backoff_ms", _positive_int,
           "first retry delay in ms (default 200)"),
    Option("retry-backoff-max-ms", "retry_backoff_max_ms", _positive_int,
           "retry delay cap in ms (default 30000)"),
    Option("retry-max-elapsed", "retry_max_elapsed_s", _positive_float,
           "give up retrying transient failures after this many seconds (default: never)"),
    Option("rebalance-timeout", "rebalance_timeout_s", _positive_float,
           "seconds a revoked partition may take to finish its in-flight work (default 15)"),
    Option("log-format", "log_format", str,
           "log lines: json, human, or auto (human on a terminal, else json)",
           ("json", "human", "auto")),
)


@dataclass(frozen=True)
class Settings:
    topic: str
    group: str
    handler: str
    bootstrap: str
    registry: str | None = None
    redis: str | None = None
    dlq_topic: str = ""
    metrics_port: int = DEFAULT_METRICS_PORT
    concurrency: int = 16
    ordering: str = "key"
    max_attempts: int = 5
    id_header: str = DEFAULT_ID_HEADER
    id_field: str | None = None
    reader_schema: str | None = None
    value_format: str = "avro"
    processes: int = 1
    shutdown_timeout_s: float = 30.0
    from_time_ms: int | None = None
    until_time_ms: int | None = None
    max_buffered: int = 10_000
    # Each turn of the poll loop has fixed costs (two Redis round trips to feed the handlers,
    # GIL hand-overs to them): 4000 read 8-19% more Avro orders a second than 1000, in each of
    # 7 interleaved pairs, and 8000 no more than 2000 (bench/RESULTS.md).
    batch_size: int = 4000
    dedup: bool = True
    dedup_window_s: float = 3600.0
    dedup_capacity: int = 1_000_000
    redis_down: str = "pause"
    retry_backoff_ms: int = 200
    retry_backoff_max_ms: int = 30_000
    retry_max_elapsed_s: float | None = None
    rebalance_timeout_s: float = 15.0
    log_format: str = "auto"
    kafka: Mapping[str, str] = field(default_factory=dict)
    error_classes: Mapping[str, str] = field(default_factory=dict)
    breakers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.dlq_topic:
            object.__setattr__(self, "dlq_topic", self.topic + DLQ_TOPIC_SUFFIX)
        if self.dlq_topic == self.topic:
            raise ConfigError("--dlq-topic must differ from --topic")
        if ":" not in self.handler:
            raise ConfigError(f"--handler {self.handler!r} must look like package.module:function")
        if self.value_format == "avro" and not self.registry:
            raise ConfigError("--value-format avro needs a schema registry (--registry)")
        if self.dedup and not self.redis:
            raise ConfigError("dedup needs Redis (--redis), or turn it off with --no-dedup")
        if self.until_time_ms is not None and self.from_time_ms is None:
            raise ConfigError("--until-time needs --from-time")
        if (self.until_time_ms is not None and self.from_time_ms is not None
                and self.until_time_ms <= self.from_time_ms):
            raise ConfigError("--until-time must be after --from-time")
        if self.batch_size > self.max_buffered:
            object.__setattr__(self, "batch_size", self.max_buffered)
        for cls, category in self.error_classes.items():
            if category not in CATEGORIES:
                raise ConfigError(f"[errors] {cls!r} = {category!r}: use one of {CATEGORIES}")

    @property
    def backfill(self) -> bool:
        return self.from_time_ms is not None


def read_reader_schema(path: str | None) -> Any:
    """The parsed ``--reader-schema`` file, or None without one."""
    if not path:
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--reader-schema {path}: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file (flags > env > file > defaults)")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"default": None, "help": f"{opt.help} [env {opt.env_name}]"}
        if opt.boolean:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif opt.choices:
            kwargs["choices"] = opt.choices
        parser.add_argument(f"--{opt.flag}", dest=opt.attr, **kwargs)
    parser.add_argument("-X", "--kafka", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka setting, like the TOML [kafka] table (repeatable)")


def _parse(opt: Option, raw: Any, source: str) -> Any:
    if opt.boolean and isinstance(raw, bool):
        return raw
    if opt.choices and str(raw) not in opt.choices:
        raise ConfigError(f"{source}: {raw!r} is not one of {', '.join(opt.choices)}")
    try:
        return opt.parse(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{source}: {raw!r}: {exc}") from None


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"--config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None


def _tables(data: dict[str, Any], path: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for name in ("kafka", "errors", "breakers"):
        value = data.pop(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"--config {path}: [{name}] must be a table")
        tables[name] = value
    tables["kafka"] = {key: str(val) for key, val in tables["kafka"].items()}
    return tables


def load_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    toml: dict[str, Any] = _read_toml(args.config) if getattr(args, "config", None) else {}
    tables = _tables(toml, args.config) if toml else {"kafka": {}, "errors": {}, "breakers": {}}
    known = {opt.toml_key: opt for opt in OPTIONS}
    unknown = sorted(set(toml) - set(known))
    if unknown:
        raise ConfigError(f"--config {args.config}: unknown setting(s) {', '.join(unknown)}")

    values: dict[str, Any] = {}
    for opt in OPTIONS:
        flag_value = getattr(args, opt.attr, None)
        if flag_value is not None:
            values[opt.attr] = _parse(opt, flag_value, f"--{opt.flag}")
        elif env.get(opt.env_name):
            values[opt.attr] = _parse(opt, env[opt.env_name], opt.env_name)
        elif opt.toml_key in toml:
            values[opt.attr] = _parse(opt, toml[opt.toml_key], f"{args.config}: {opt.toml_key}")

    for item in getattr(args, "kafka", None) or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"-X {item!r}: expected KEY=VALUE")
        tables["kafka"][key.strip()] = value
    _resolve_services(values)
    missing = [f"--{o.flag}" for o in OPTIONS if o.attr in ("topic", "group", "handler")
               and not values.get(o.attr)]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (flag, CONSUMER_* env or --config file)")
    if values.get("reader_schema") and not Path(values["reader_schema"]).is_file():
        raise ConfigError(f"--reader-schema {values['reader_schema']}: no such file")
    settings_fields = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in settings_fields},
                    kafka=tables["kafka"], error_classes=tables["errors"],
                    breakers=tables["breakers"])


def _resolve_services(values: dict[str, Any]) -> None:
    """Fills in the embedded stack's addresses for services needed but not named."""
    from . import endpoints

    needed = {"bootstrap": True,
              "registry": values.get("value_format", "avro") == "avro",
              "redis": values.get("dedup", True)}
    for service, required in needed.items():
        if required and not values.get(service):
            values[service] = endpoints.resolve(service, None)
