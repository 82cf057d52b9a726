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
