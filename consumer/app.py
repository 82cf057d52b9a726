"""Assembling a ``Runtime`` from ``Settings``: each stage built once, at start-up, where a bad
setting or an absent service is still a clear error rather than a failure mid-stream."""

from __future__ import annotations

import time
from dataclasses import replace

from confluent_kafka import Consumer

from .avro_codec import AvroDecoder
from .backfill import Backfill, backfill_group
from .breaker import BREAKERS
from .config import Settings, read_reader_schema
from .deadletters import DeadLetters
from .decode import Decoder, ValueDecoder, bytes_decoder, json_decoder
from .dedup import DedupStore
from .dedup_settings import DedupSettings
from .dispatch import Dispatcher, lane_of
from .duplicates import DuplicateFilter
from .errors import ConfigError
from .executor_async import AsyncExecutor
from .executor_threads import ThreadExecutor
from .feed import Feeder
from .handler import load_handler
from .kafka import admin, consumer_config, partition_count
from .ledger import AttemptLedger
from .outcome import OutcomePolicy
from .prestart import Prestart
from .recovery import Recovery
from .redis_breaker import RedisBreaker
from .redis_conn import connect
from .registry_client import RegistryClient
from .retry import BackoffPolicy
from .runtime import Runtime
from .tracing import instrumented, tracer_from_env


def value_decoder(settings: Settings) -> ValueDecoder:
    if settings.value_format == "json":
        return json_decoder
    if settings.value_format == "bytes":
        return bytes_decoder
    assert settings.registry  # Settings requires it for avro
    return AvroDecoder(RegistryClient(settings.registry), read_reader_schema(settings.reader_schema)).decode


def build_runtime(settings: Settings) -> Runtime:
    backfill = None
    kafka = dict(settings.kafka)
    if settings.from_time_ms is not None:
        backfill = Backfill(settings.from_time_ms, settings.until_time_ms)
        settings = replace(settings, group=backfill_group(
            settings.group, settings.from_time_ms, settings.until_time_ms))
        kafka["enable.partition.eof"] = "true"   # how a backfill knows it reached the end
    handler = load_handler(settings.handler)
    BREAKERS.configure(settings.breakers)
    if partition_count(admin(settings.bootstrap, settings.kafka), settings.topic) is None:
        raise ConfigError(f"topic {settings.topic!r} does not exist on {settings.bootstrap}")
    policy = OutcomePolicy(
        max_attempts=settings.max_attempts,
        backoff=BackoffPolicy(initial_backoff_ms=settings.retry_backoff_ms,
                              max_backoff_ms=settings.retry_backoff_max_ms,
                              max_elapsed_s=settings.retry_max_elapsed_s),
        error_classes=settings.error_classes)

    decoder = Decoder(settings.topic, value_decoder(settings), lane_of(settings.ordering),
                      settings.id_header, settings.id_field,
                      backfill.outside if backfill is not None else None)
    keep_going = settings.redis_down == "continue"
    duplicates = recovery = prestart = None
    if settings.redis:
        client = connect(settings.redis)
        breaker = RedisBreaker("redis")
        if settings.dedup:
            store = DedupStore(client, DedupSettings.of_runtime(settings), breaker=breaker)
            duplicates = DuplicateFilter(store, keep_going)
        ledger = AttemptLedger(client, settings.group, settings.topic, breaker)
        recovery = Recovery(ledger, settings.max_attempts, keep_going)
        prestart = Prestart(duplicates, recovery, keep_going)
    executor_class = AsyncExecutor if handler.is_async else ThreadExecutor
    tracer = tracer_from_env(settings.group)
    executor = executor_class(instrumented(handler.func, handler.is_async, tracer),
                              Dispatcher(settings.ordering), policy,
                              settings.concurrency, prestart)
    dead_letters = DeadLetters(bootstrap=settings.bootstrap, kafka=settings.kafka,
                               topic=settings.dlq_topic, source=settings.topic,
                               group=settings.group)
    consumer = Consumer(consumer_config(settings.bootstrap, settings.group, kafka))
    feeder = Feeder(executor, prestart, time.monotonic)
    return Runtime(settings, consumer=consumer, decoder=decoder, executor=executor,
                   feeder=feeder, duplicates=duplicates, dead_letters=dead_letters, policy=policy,
                   recovery=recovery, backfill=backfill, tracer=tracer)
