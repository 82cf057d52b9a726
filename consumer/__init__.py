"""consumer: an at-least-once Kafka consumer runtime with registry validation, dedup, retries,
circuit breakers and a dead-letter topic. Handlers import what they need from here."""

from .breaker import breaker
from .errors import PermanentError, TransientError
from .message import Message

__all__ = ["Message", "PermanentError", "TransientError", "breaker"]
