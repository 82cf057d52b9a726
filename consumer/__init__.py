"""consumer: an at-least-once Kafka consumer runtime with registry validation, dedup, retries,
circuit breakers and a dead-letter topic. Handlers import what they need from here."""

from .errors import PermanentError, TransientError

__all__ = ["PermanentError", "TransientError"]
