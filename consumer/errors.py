"""The error tree. Every error the runtime raises or classifies derives from ``ConsumerError``.

Errors about a message carry it (``raw``: the confluent-kafka message, or None when there is
none yet), so whoever catches one can dead-letter or log it with full context.
"""

from __future__ import annotations

from typing import Any


class ConsumerError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, raw: Any = None) -> None:
        super().__init__(message)
        self.raw = raw


# -- bad usage: one line on stderr, exit 2 ----------------------------------------------------
class UsageError(ConsumerError):
    """Raised for bad command-line input, configuration, or files given to a command."""

    exit_code = 2


class ConfigError(UsageError):
    """Raised at start-up when a setting is missing, malformed or inconsistent."""


class HandlerLoadError(UsageError):
    """Raised at start-up when ``--handler`` cannot be imported or is not callable."""


class ServiceUnavailable(ConsumerError):
    """Raised by CLI commands when the broker, Redis or the registry does not answer."""

    exit_code = 2


# -- failures of one message: classified by outcome.decide() ----------------------------------
class TransientError(ConsumerError):
    """Raised by a handler (or the runtime) for a failure that a later retry may not see:
    a timeout, a dependency down. Retried with backoff, never dead-lettered for its own sake."""


class PermanentError(ConsumerError):
    """Raised by a handler for a message that can never succeed: dead-lettered at once."""


class DataError(PermanentError):
    """Raised while decoding or validating a message's bytes. ``reason`` is the metric label."""

    reason = "decode"


class FramingError(DataError):
    """Raised when a value is too short for the Confluent wire format or its magic byte is not 0."""

    reason = "framing"


class UnknownSchemaError(DataError):
    """Raised when the registry answers that a message's schema id does not exist."""

    reason = "unknown_schema"


class DecodeError(DataError):
    """Raised when the bytes do not decode with their writer schema (or as JSON)."""

    reason = "decode"


class ValidationError(DataError):
    """Raised when a decoded record cannot be resolved to the consumer's reader schema."""

    reason = "validation"


class RegistryUnavailable(TransientError):
    """Raised when the schema registry cannot be reached or answers 5xx: decode waits."""


class RedisUnavailable(TransientError):
    """Raised when Redis cannot be reached: dedup (and so consumption) waits by default."""


class RedisCircuitOpen(RedisUnavailable):
    """Raised by the Redis users (dedup, attempt counts) while their breaker is open: the call
    fails fast without touching the network; ``retry_in_s`` says when the next probe is due."""

    def __init__(self, breaker: str, retry_in_s: float) -> None:
        super().__init__(f"{breaker}: circuit open after repeated failures "
                         f"(next probe in {retry_in_s:.1f}s)")
        self.breaker = breaker
        self.retry_in_s = retry_in_s


class BreakerOpenError(TransientError):
    """Raised by ``consumer.breaker(name)`` while that breaker is open: no attempt is charged."""

    def __init__(self, breaker: str, retry_in_s: float) -> None:
        super().__init__(f"circuit breaker {breaker!r} is open (retry in {retry_in_s:.1f}s)")
        self.breaker = breaker
        self.retry_in_s = retry_in_s


class CrashLoopError(PermanentError):
    """Stands for a message during whose handling the process died ``max_attempts`` times."""


class DeadLetterError(ConsumerError):
    """Raised when a dead letter could not be produced: its offset stays uncommitted."""


# -- schemas and the registry -----------------------------------------------------------------
class InvalidSchemaError(UsageError):
    """Raised when an Avro schema, or one of its field defaults, is not valid Avro (the registry
    answers 422/42201 with the same message)."""


class RegistryError(ConsumerError):
    """Raised when the schema registry rejects a request (a 4xx other than an unknown schema
    id); carries the HTTP status and Confluent's ``error_code``."""

    exit_code = 2

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


# -- commands that name things on the broker --------------------------------------------------
class NotFoundError(UsageError):
    """Raised by a command when the consumer group or topic it names does not exist."""


class ReplayError(ConsumerError):
    """Raised by ``consumer dlq replay`` when a republished letter is not acknowledged: the
    replay stops and its progress stays before that letter, so the next run retries it."""


# -- consumer demo -----------------------------------------------------------------------------
class DemoError(ConsumerError):
    """Raised by ``consumer demo`` when a step does not end as it must: the consumer exits or
    does not settle in time, a group it needs is still in use, or the figures disagree with
    what was produced."""
