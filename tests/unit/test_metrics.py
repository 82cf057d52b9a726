from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumer.errors import ConfigError
from consumer.histogram import SECONDS_BUCKETS
from consumer.metrics import Metrics, MetricsSettings, PrometheusMetrics, create_metrics

# CONTRACT.md, "Metrics": name -> (type, label names); counters named without "_total" the way
# the Prometheus parser reports their family.
CONTRACT = {
    "consumer_messages": ("counter", {"topic", "outcome"}),
    "consumer_lag_messages": ("gauge", {"group", "topic", "partition"}),
    "consumer_lag_seconds": ("gauge", {"group", "topic", "partition"}),
    "consumer_processing_seconds": ("histogram", {"topic"}),
    "consumer_end_to_end_latency_seconds": ("histogram", {"topic"}),
    "consumer_in_flight_messages": ("gauge", {"topic"}),
    "consumer_paused_partitions": ("gauge", {"topic"}),
    "consumer_circuit_breaker_state": ("gauge", {"breaker"}),
    "consumer_dedup_checks": ("counter", {"result"}),
    "consumer_redis_roundtrips": ("counter", set()),
    "consumer_data_errors": ("counter", {"topic", "reason"}),
}


def scrape(metrics: PrometheusMetrics) -> dict[str, object]:
    return {family.name: family for family in
            text_string_to_metric_families(generate_latest(metrics.registry).decode())}


def values(metrics: PrometheusMetrics, sample_name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(sample.labels.items())): sample.value
            for family in scrape(metrics).values() for sample in family.samples
            if sample.name == sample_name}


@pytest.fixture
def metrics():
    made = PrometheusMetrics(MetricsSettings(topic="orders", group="billing"))
    yield made
    made.close()


def exercise(metrics: Metrics) -> None:
    metrics.messages("processed", 3)
    metrics.processing_seconds([0.002, 0.2])
    metrics.end_to_end_seconds([1.5])
    metrics.in_flight(4)
    metrics.paused_partitions(1)
    metrics.lag(0, 10, 2.5)
    metrics.breaker_state("payments", "open")
    metrics.dedup_checks("redis_hit", 2)
    metrics.redis_roundtrips(1)
    metrics.data_errors("framing", 1)
    metrics.null_fields({"email": 1}, 3)


def test_every_contract_metric_has_its_name_type_and_exact_labels(metrics):
    exercise(metrics)
    families = scrape(metrics)
    for name, (kind, labels) in CONTRACT.items():
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    assert "target_info" not in families  # no series CONTRACT.md does not name


def test_counters_add_up_batches_and_start_at_zero_for_every_label_value(metrics):
    metrics.messages("processed", 500)
    metrics.messages("processed", 20)
    metrics.messages("dead_lettered", 1)
    counted = values(metrics, "consumer_messages_total")
    assert counted[(("outcome", "processed"), ("topic", "orders"))] == 520
    assert counted[(("outcome", "dead_lettered"), ("topic", "orders"))] == 1
    assert counted[(("outcome", "duplicate"), ("topic", "orders"))] == 0
    assert counted[(("outcome", "retried"), ("topic", "orders"))] == 0
    assert len(values(metrics, "consumer_data_errors_total")) == 4


def test_an_unknown_outcome_fails_loudly(metrics):
    with pytest.raises(KeyError):
        metrics.messages("lost", 1)


def test_histogram_buckets_are_cumulative_with_count_and_sum(metrics):
    observed = [0.00005, 0.0001, 0.003, 0.003, 0.7, 45.0, 120.0] + [0.02] * 10
    metrics.processing_seconds(observed)
    buckets = {dict(labels)["le"]: value
               for labels, value in values(metrics, "consumer_processing_seconds_bucket").items()}
    for bound in SECONDS_BUCKETS:
        assert buckets[str(bound)] == sum(1 for v in observed if v <= bound), bound
    assert buckets["+Inf"] == len(observed)
    assert values(metrics, "consumer_processing_seconds_count") == {(("topic", "orders"),): 17}
    [total] = values(metrics, "consumer_processing_seconds_sum").values()
    assert total == pytest.approx(sum(observed))


def test_buckets_span_100_microseconds_to_a_minute():
    assert SECONDS_BUCKETS[0] == 0.0001
    assert SECONDS_BUCKETS[-1] == 60.0


def test_lag_series_are_per_partition_and_go_away_when_revoked(metrics):
    metrics.lag(0, 10, 2.0)
    metrics.lag(1, 0, 0.0)
    metrics.lag(0, 7, 1.0)
    assert values(metrics, "consumer_lag_messages") == {
        (("group", "billing"), ("partition", "0"), ("topic", "orders")): 7,
        (("group", "billing"), ("partition", "1"), ("topic", "orders")): 0}
    metrics.forget_partitions([0])
    assert values(metrics, "consumer_lag_seconds") == {
        (("group", "billing"), ("partition", "1"), ("topic", "orders")): 0.0}


def test_an_unknown_lag_age_keeps_the_last_known_one(metrics):
    metrics.lag(0, 10, 42.0)
    metrics.lag(0, 12, None)
    assert values(metrics, "consumer_lag_seconds") == {
        (("group", "billing"), ("partition", "0"), ("topic", "orders")): 42.0}
    assert values(metrics, "consumer_lag_messages") == {
        (("group", "billing"), ("partition", "0"), ("topic", "orders")): 12}


def test_gauges_show_the_latest_value(metrics):
    metrics.in_flight(40)
    metrics.in_flight(12)
    metrics.breaker_state("payments", "half-open")
    assert values(metrics, "consumer_in_flight_messages") == {(("topic", "orders"),): 12}
    assert values(metrics, "consumer_circuit_breaker_state") == {(("breaker", "payments"),): 1}
    metrics.breaker_state("payments", "closed")
    assert values(metrics, "consumer_circuit_breaker_state") == {(("breaker", "payments"),): 0}


def test_null_share_of_nullable_fields(metrics):
    metrics.null_fields({"email": 2, "phone": 0}, 10)
    metrics.null_fields({"email": 1, "phone": 5}, 10)
    assert values(metrics, "consumer_null_values_total") == {
        (("field", "email"), ("topic", "orders")): 3,
        (("field", "phone"), ("topic", "orders")): 5}
    assert values(metrics, "consumer_null_checked_records_total") == {(("topic", "orders"),): 20}


def test_two_instances_keep_separate_registries():
    first = PrometheusMetrics(MetricsSettings("a", "g"))
    second = PrometheusMetrics(MetricsSettings("b", "g"))
    first.messages("processed", 1)
    assert values(second, "consumer_messages_total")[(("outcome", "processed"), ("topic", "b"))] == 0
    first.close()
    second.close()


def test_disabled_metrics_export_nothing_and_accept_every_call():
    metrics = create_metrics(MetricsSettings("orders", "billing", enabled=False))
    assert not metrics.enabled
    assert not isinstance(metrics, PrometheusMetrics)
    assert not hasattr(metrics, "registry")
    exercise(metrics)
    metrics.forget_partitions([0])
    assert "consumer_" not in generate_latest(REGISTRY).decode()


def test_enabled_settings_make_exporting_metrics():
    metrics = create_metrics(MetricsSettings("orders", "billing"))
    assert isinstance(metrics, PrometheusMetrics) and metrics.enabled
    metrics.close()


def test_settings_need_topic_and_group():
    with pytest.raises(ConfigError):
        MetricsSettings(topic="", group="g")


def test_a_breaker_shows_once_found_and_a_reported_transition_is_not_overwritten(metrics):
    metrics.breaker_found("payments", "closed")
    assert values(metrics, "consumer_circuit_breaker_state") == {(("breaker", "payments"),): 0}
    metrics.breaker_state("payments", "open")
    metrics.breaker_found("payments", "closed")   # read before the transition was reported
    assert values(metrics, "consumer_circuit_breaker_state") == {(("breaker", "payments"),): 2}
