from types import SimpleNamespace

import pytest

from consumer.errors import (
    BreakerOpenError,
    ConfigError,
    CrashLoopError,
    DecodeError,
    PermanentError,
    TransientError,
)
from consumer.outcome import OutcomePolicy, Verdict
from consumer.retry import BackoffPolicy


def policy(**kwargs):
    return OutcomePolicy(max_attempts=3, backoff=BackoffPolicy(initial_backoff_ms=100,
                                                               max_backoff_ms=1000), **kwargs)


def msg(attempt=1):
    return SimpleNamespace(attempt=attempt, failure=None)


@pytest.mark.parametrize("error, category", [
    (TransientError("x"), "transient"), (TimeoutError(), "transient"),
    (ConnectionRefusedError(), "transient"), (PermanentError("x"), "data"),
    (DecodeError("x"), "data"), (KeyError("x"), "handler"),
    (CrashLoopError("x"), "handler"),
])
def test_the_error_tree_decides_the_category(error, category):
    assert policy().category(error) == category


def test_handler_bugs_are_retried_until_max_attempts_then_dead_lettered():
    p = policy()
    assert p.decide(msg(1), KeyError("x")).verdict is Verdict.RETRY
    assert p.decide(msg(2), KeyError("x")).verdict is Verdict.RETRY
    assert p.decide(msg(3), KeyError("x")).verdict is Verdict.DEAD_LETTER


def test_data_errors_are_dead_lettered_at_once_and_transient_ones_retried_without_limit():
    p = policy()
    assert p.decide(msg(1), DecodeError("x")).verdict is Verdict.DEAD_LETTER
    assert p.decide(msg(50), TimeoutError()).verdict is Verdict.RETRY


def test_an_open_breaker_waits_without_charging_and_success_is_done():
    p, m = policy(), msg()
    decision = p.decide(m, BreakerOpenError("payments", 2.5))
    assert (decision.verdict, decision.delay_s, m.failure) == (Verdict.WAIT, 2.5, None)
    assert p.decide(m, None).verdict is Verdict.DONE


def test_the_failure_history_is_kept_for_the_dead_letter():
    p, m = policy(), msg()
    p.decide(m, KeyError("first"))
    first = m.failure.first_failure_s
    p.decide(m, ValueError("second"))
    assert m.failure.first_failure_s == first <= m.failure.last_failure_s
    assert isinstance(m.failure.error, ValueError) and m.failure.category == "handler"


def test_configured_classes_win_by_dotted_path_or_bare_name_most_specific_first():
    p = policy(error_classes={"json.JSONDecodeError": "data", "KeyError": "transient",
                              "builtins.LookupError": "data"})
    import json
    assert p.category(json.JSONDecodeError("x", "", 0)) == "data"
    assert p.category(KeyError("x")) == "transient"
    assert p.category(IndexError("x")) == "data"      # via LookupError


def test_an_unknown_configured_class_is_a_config_error():
    with pytest.raises(ConfigError, match="no such class"):
        policy(error_classes={"nowhere.Missing": "transient"})
    with pytest.raises(ConfigError, match="not an exception"):
        policy(error_classes={"json.dumps": "transient"})


def test_transient_failures_are_dead_lettered_once_the_retry_time_limit_is_spent():
    p = OutcomePolicy(max_attempts=3, backoff=BackoffPolicy(initial_backoff_ms=100,
                                                            max_backoff_ms=1000,
                                                            max_elapsed_s=60))
    m = msg()
    assert p.decide(m, TimeoutError()).verdict is Verdict.RETRY
    m.failure.first_failure_s -= 61       # the first failure was over a minute ago
    decision = p.decide(m, TimeoutError())
    assert decision.verdict is Verdict.DEAD_LETTER and m.failure.category == "transient"
