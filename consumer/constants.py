"""Names shared with the outside world (CONTRACT.md) and with other processes of the group."""

from __future__ import annotations

# -- identity -------------------------------------------------------------------------------
DEFAULT_ID_HEADER = "message-id"

# -- dead letters (CONTRACT.md, "Dead letters") -----------------------------------------------
DLQ_PREFIX = "dlq."
DLQ_ORIGINAL_TOPIC = "dlq.original.topic"
DLQ_ORIGINAL_PARTITION = "dlq.original.partition"
DLQ_ORIGINAL_OFFSET = "dlq.original.offset"
DLQ_ORIGINAL_TIMESTAMP = "dlq.original.timestamp"
DLQ_CONSUMER_GROUP = "dlq.consumer.group"
DLQ_MESSAGE_ID = "dlq.message.id"
DLQ_ERROR_CATEGORY = "dlq.error.category"
DLQ_ERROR_CLASS = "dlq.error.class"
DLQ_ERROR_MESSAGE = "dlq.error.message"
DLQ_ERROR_STACKTRACE = "dlq.error.stacktrace"
DLQ_ATTEMPTS = "dlq.attempts"
DLQ_FIRST_FAILURE = "dlq.first.failure"
DLQ_LAST_FAILURE = "dlq.last.failure"
DLQ_HOST = "dlq.host"
DLQ_SCHEMA_ID = "dlq.schema.id"
DLQ_REPLAY_COUNT = "dlq.replay.count"
DLQ_TOPIC_SUFFIX = ".dlq"

# -- failure categories ----------------------------------------------------------------------
CATEGORY_TRANSIENT = "transient"
CATEGORY_DATA = "data"
CATEGORY_HANDLER = "handler"
CATEGORIES = (CATEGORY_TRANSIENT, CATEGORY_DATA, CATEGORY_HANDLER)

# -- Redis keys: every key starts with this; {braces} hash-tag keys onto one cluster slot ------
REDIS_PREFIX = "consumer"

# -- Confluent wire format --------------------------------------------------------------------
WIRE_MAGIC = 0
WIRE_HEADER_BYTES = 5

# -- embedded stack --------------------------------------------------------------------------
# Preferred loopback ports: away from Kafka's 9092, Redis's 6379 and the registry's 8081, so a
# user's own services keep theirs. A taken port falls back to a free one.
DEV_BROKER_PORT = 19092
DEV_REDIS_PORT = 16379
DEV_REGISTRY_PORT = 18081
DEFAULT_METRICS_PORT = 9464

# -- environment names (CONTRACT.md) ----------------------------------------------------------
ENV_BOOTSTRAP = "CONSUMER_BOOTSTRAP"
ENV_REGISTRY = "CONSUMER_REGISTRY_URL"
ENV_REDIS = "CONSUMER_REDIS_URL"
ENV_HOME = "CONSUMER_HOME"

# -- metrics (CONTRACT.md, "Metrics"); label values are the runtime's vocabulary ---------------
METRIC_MESSAGES = "consumer_messages_total"
METRIC_LAG_MESSAGES = "consumer_lag_messages"
METRIC_LAG_SECONDS = "consumer_lag_seconds"
METRIC_PROCESSING_SECONDS = "consumer_processing_seconds"
METRIC_END_TO_END_SECONDS = "consumer_end_to_end_latency_seconds"
METRIC_IN_FLIGHT = "consumer_in_flight_messages"
METRIC_PAUSED_PARTITIONS = "consumer_paused_partitions"
METRIC_BREAKER_STATE = "consumer_circuit_breaker_state"
METRIC_DEDUP_CHECKS = "consumer_dedup_checks_total"
METRIC_REDIS_ROUNDTRIPS = "consumer_redis_roundtrips_total"
METRIC_DATA_ERRORS = "consumer_data_errors_total"
# Data quality (ours, not in CONTRACT.md): null share of each nullable reader-schema field is
# rate(null_values{field}) / rate(null_checked_records).
METRIC_NULL_VALUES = "consumer_null_values_total"
METRIC_NULL_CHECKED_RECORDS = "consumer_null_checked_records_total"

OUTCOME_PROCESSED = "processed"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME_DEAD_LETTERED = "dead_lettered"
OUTCOME_RETRIED = "retried"
OUTCOMES = (OUTCOME_PROCESSED, OUTCOME_DUPLICATE, OUTCOME_DEAD_LETTERED, OUTCOME_RETRIED)
DEDUP_BLOOM_NEGATIVE = "bloom_negative"
DEDUP_REDIS_HIT = "redis_hit"
DEDUP_REDIS_MISS = "redis_miss"
DEDUP_RESULTS = (DEDUP_BLOOM_NEGATIVE, DEDUP_REDIS_HIT, DEDUP_REDIS_MISS)
DATA_ERROR_REASONS = ("framing", "unknown_schema", "decode", "validation")
BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

# -- observability settings from the environment ----------------------------------------------
ENV_LOG_FORMAT = "CONSUMER_LOG_FORMAT"
ENV_LOG_LEVEL = "CONSUMER_LOG_LEVEL"

# -- dedup and attempt counts in Redis: consumer:{<group>[#shard]}:<kind>:... (redis_keys.py) ---
REDIS_DEDUP_KIND = "dedup"
REDIS_ATTEMPTS_KIND = "attempts"
# A Redis URL with one of these schemes names a Redis Cluster (redis_conn.py).
REDIS_CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

# -- idempotency toolkit ----------------------------------------------------------------------
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

# -- consumer run --processes N (supervisor.py) -----------------------------------------------
# Set by the supervisor for each member: the file where the member writes the loopback port of
# its own metrics server, which the supervisor merges into the one it serves.
ENV_MEMBER_METRICS_FILE = "CONSUMER_MEMBER_METRICS_FILE"
# Set by the supervisor when there is a core for every member: the CPU this member's Python
# threads are to run on (member_process.pin_to_member_cpu).
ENV_MEMBER_CPU = "CONSUMER_MEMBER_CPU"
METRIC_MEMBER_RESTARTS = "consumer_member_restarts_total"
METRIC_MEMBERS_RUNNING = "consumer_members_running"
