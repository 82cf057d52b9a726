"""The demo's consumer process: the command line a person could type, the flags it really
runs with, and its outcome counters read from the runtime's own Prometheus exposition."""

from __future__ import annotations

import socket
from pathlib import Path

from prometheus_client import generate_latest

from consumer.demo_member import (
    GROUP_TIMINGS,
    MemberSpec,
    metrics_port,
    outcome_counts,
    shown_path,
)
from consumer.metrics import MetricsSettings, PrometheusMetrics

SERVICES = {"bootstrap": "127.0.0.1:19092", "registry": "http://127.0.0.1:18081",
            "redis": "redis://127.0.0.1:16379/0"}


def spec(env: dict[str, str] | None = None) -> MemberSpec:
    return MemberSpec("orders", "orders-demo", "examples.orders:handle",
                      Path("/src/repo/schemas/orders-v1.avsc"), 9464, 3, SERVICES, env or {})


def test_outcome_counts_reads_what_the_runtime_exports():
    metrics = PrometheusMetrics(MetricsSettings("orders", "orders-demo"))
    metrics.messages("processed", 2999)
    metrics.messages("duplicate", 90)
    metrics.messages("dead_lettered", 4)
    metrics.messages("retried", 2)
    counts = outcome_counts(generate_latest(metrics.registry).decode())
    assert (counts["processed"], counts["duplicate"], counts["dead_lettered"],
            counts["retried"]) == (2999, 90, 4, 2)


def test_outcome_counts_of_a_process_that_counted_nothing_yet():
    assert sum(outcome_counts("# nothing here\n").values()) == 0


def test_the_shown_command_is_what_a_person_types_from_the_checkout():
    shown = spec({"ORDERS_ACCEPT_REFUNDS": "1"}).shown(Path("/src/repo"), background=True)
    assert shown == ("ORDERS_ACCEPT_REFUNDS=1 consumer run --topic orders --group orders-demo "
                     "--handler examples.orders:handle --reader-schema schemas/orders-v1.avsc "
                     "--max-attempts 3 --metrics-port 9464 &")


def test_the_real_command_names_every_service_and_admits_the_member_quickly():
    command = spec().command()
    assert command[1:4] == ["-m", "consumer", "run"]
    for flag, value in (("--bootstrap", SERVICES["bootstrap"]),
                        ("--registry", SERVICES["registry"]), ("--redis", SERVICES["redis"]),
                        ("--reader-schema", "/src/repo/schemas/orders-v1.avsc")):
        assert command[command.index(flag) + 1] == value
    for key, value in GROUP_TIMINGS.items():
        assert f"{key}={value}" in command
    assert spec().metrics_url == "http://127.0.0.1:9464/metrics"


def test_paths_outside_the_working_directory_stay_absolute():
    assert shown_path("/elsewhere/orders.db", Path("/src/repo")) == "/elsewhere/orders.db"
    assert shown_path("/src/repo/demo/orders.db", Path("/src/repo")) == "demo/orders.db"
    assert shown_path("orders", Path("/src/repo")) == "orders"


def test_a_metrics_port_someone_listens_on_is_replaced_by_a_free_one():
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert metrics_port(taken) != taken
    assert metrics_port(taken) == taken
