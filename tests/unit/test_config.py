"""Settings of ``consumer run``: precedence flags > env > TOML > defaults, the librdkafka
pass-through, the extra tables, and every way a value can be wrong, named by its source."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from consumer import config, endpoints
from consumer.config import Settings, load_settings, read_reader_schema
from consumer.errors import ConfigError, UsageError

SERVICES = ["--bootstrap", "kafka:9092", "--registry", "http://registry:8081",
            "--redis", "redis://redis:6379/0"]
REQUIRED = ["--topic", "orders", "--group", "billing", "--handler", "app.handlers:handle"]


@pytest.fixture(autouse=True)
def no_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service left unnamed must fail the test, not reach for a running embedded stack."""
    def refuse(service: str, flag_value: str | None) -> str:
        raise AssertionError(f"the embedded stack was asked for {service}")

    monkeypatch.setattr(endpoints, "resolve", refuse)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return parser.parse_args(list(argv))


def load(*argv: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(parse(*REQUIRED, *SERVICES, *argv), env=env or {})


def toml_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "consumer.toml"
    path.write_text(text)
    return str(path)


def test_defaults_follow_the_contract():
    settings = load()
    assert settings.dlq_topic == "orders.dlq"
    assert settings.metrics_port == 9464
    assert settings.ordering == "key"
    assert settings.max_attempts == 5
    assert settings.id_header == "message-id"
    assert settings.id_field is None
    assert settings.value_format == "avro"
    assert settings.processes == 1
    assert settings.shutdown_timeout_s == 30.0
    assert settings.concurrency == 16
    assert settings.dedup is True and settings.redis_down == "pause"
    assert settings.from_time_ms is None and settings.backfill is False
    assert dict(settings.kafka) == {} and dict(settings.error_classes) == {}


def test_flags_beat_env_which_beats_the_file_which_beats_the_default(tmp_path):
    path = toml_file(tmp_path, "concurrency = 4\nmax_attempts = 7\nordering = 'partition'\n")
    env = {"CONSUMER_CONCURRENCY": "8", "CONSUMER_MAX_ATTEMPTS": "9"}
    settings = load("--config", path, "--concurrency", "12", env=env)
    assert settings.concurrency == 12            # flag over env and file
    assert settings.max_attempts == 9            # env over file
    assert settings.ordering == "partition"      # file over default
    assert settings.shutdown_timeout_s == 30.0   # default


def test_every_setting_reads_from_its_contract_env_name():
    env = {"CONSUMER_TOPIC": "payments", "CONSUMER_GROUP": "ledger",
           "CONSUMER_HANDLER": "pay.handlers:handle", "CONSUMER_BOOTSTRAP": "b:1",
           "CONSUMER_REGISTRY_URL": "http://r:1", "CONSUMER_REDIS_URL": "redis://x:1/0",
           "CONSUMER_DLQ_TOPIC": "payments.dead", "CONSUMER_METRICS_PORT": "0",
           "CONSUMER_ID_FIELD": "payment_id", "CONSUMER_SHUTDOWN_TIMEOUT": "2.5"}
    settings = load_settings(parse(), env=env)
    assert (settings.topic, settings.group, settings.handler) == (
        "payments", "ledger", "pay.handlers:handle")
    assert (settings.bootstrap, settings.registry, settings.redis) == (
        "b:1", "http://r:1", "redis://x:1/0")
    assert settings.dlq_topic == "payments.dead"
    assert settings.metrics_port == 0
    assert settings.id_field == "payment_id"
    assert settings.shutdown_timeout_s == 2.5


def test_an_empty_env_value_counts_as_unset(tmp_path):
    path = toml_file(tmp_path, "concurrency = 4\n")
    assert load("--config", path, env={"CONSUMER_CONCURRENCY": ""}).concurrency == 4


def test_the_file_names_every_option_by_its_flag_with_underscores(tmp_path):
    path = toml_file(tmp_path, """
topic = "orders"
group = "billing"
handler = "app.handlers:handle"
bootstrap = "kafka:9092"
value_format = "json"
dedup = false
dlq_topic = "orders.failed"
shutdown_timeout = 3
until_time = "2026-11-02T00:00:00Z"
from_time = 1793491200000
""")
    settings = load_settings(parse("--config", path), env={})
    assert settings.value_format == "json" and settings.dedup is False
    assert settings.registry is None and settings.redis is None   # not needed, not invented
    assert settings.dlq_topic == "orders.failed"
    assert settings.shutdown_timeout_s == 3.0
    assert settings.from_time_ms == 1_793_491_200_000
    assert settings.until_time_ms == 1_793_577_600_000
    assert settings.backfill


def test_dedup_flag_and_env_take_booleans_both_ways():
    assert load("--no-dedup").dedup is False
    assert load(env={"CONSUMER_DEDUP": "off"}).dedup is False
    assert load("--dedup", env={"CONSUMER_DEDUP": "off"}).dedup is True
    with pytest.raises(ConfigError, match="CONSUMER_DEDUP: 'maybe': must be true or false"):
        load(env={"CONSUMER_DEDUP": "maybe"})


def test_dash_x_settings_join_the_file_kafka_table_and_win_over_it(tmp_path):
    path = toml_file(tmp_path, """
[kafka]
"security.protocol" = "PLAINTEXT"
"session.timeout.ms" = 6000
"fetch.wait.max.ms" = 50
""")
    settings = load("--config", path, "-X", "security.protocol=SASL_SSL",
                    "-X", "sasl.password=a=b", "--kafka", "client.id=billing-1")
    assert dict(settings.kafka) == {
        "security.protocol": "SASL_SSL",
        "session.timeout.ms": "6000",        # librdkafka takes strings
        "fetch.wait.max.ms": "50",
        "sasl.password": "a=b",              # only the first '=' splits
        "client.id": "billing-1",
    }


@pytest.mark.parametrize("item", ["security.protocol", "=SSL", " =x"])
def test_a_dash_x_without_key_and_value_is_refused(item):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load("-X", item)


def test_errors_and_breakers_tables_pass_through(tmp_path):
    path = toml_file(tmp_path, """
[errors]
"requests.exceptions.Timeout" = "transient"
"KeyError" = "data"

[breakers.payments]
failure_rate = 0.5
open_s = 30
""")
    settings = load("--config", path)
    assert dict(settings.error_classes) == {"requests.exceptions.Timeout": "transient",
                                            "KeyError": "data"}
    assert dict(settings.breakers) == {"payments": {"failure_rate": 0.5, "open_s": 30}}


def test_an_error_class_mapped_to_an_unknown_category_is_refused(tmp_path):
    path = toml_file(tmp_path, "[errors]\nKeyError = 'sometimes'\n")
    with pytest.raises(ConfigError, match="'KeyError' = 'sometimes'"):
        load("--config", path)


def test_a_table_given_as_a_plain_value_is_refused(tmp_path):
    path = toml_file(tmp_path, "kafka = 'security.protocol=SSL'\n")
    with pytest.raises(ConfigError, match=r"\[kafka\] must be a table"):
        load("--config", path)


def test_unknown_keys_in_the_file_are_refused_by_name(tmp_path):
    path = toml_file(tmp_path, "concurency = 4\nmax_retries = 3\ntopic = 'orders'\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*concurency, max_retries"):
        load("--config", path)


@pytest.mark.parametrize("argv, env, file_text, source", [
    (["--concurrency", "0"], {}, "", "--concurrency: '0': must be at least 1"),
    (["--metrics-port", "-1"], {}, "", "--metrics-port: '-1': must be 0 or more"),
    (["--shutdown-timeout", "soon"], {}, "", "--shutdown-timeout: 'soon'"),
    (["--from-time", "yesterday"], {}, "", "--from-time: 'yesterday'"),
    ([], {"CONSUMER_MAX_ATTEMPTS": "many"}, "", "CONSUMER_MAX_ATTEMPTS: 'many'"),
    ([], {"CONSUMER_ORDERING": "random"}, "", "CONSUMER_ORDERING: 'random' is not one of"),
    ([], {}, "batch_size = 0\n", "consumer.toml: batch_size: 0: must be at least 1"),
    ([], {}, "value_format = 'protobuf'\n", "consumer.toml: value_format: 'protobuf'"),
])
def test_a_bad_value_is_a_config_error_naming_where_it_came_from(tmp_path, argv, env,
                                                                  file_text, source):
    if file_text:
        argv = [*argv, "--config", toml_file(tmp_path, file_text)]
    with pytest.raises(ConfigError, match=source):
        load(*argv, env=env)


def test_config_errors_are_usage_errors_so_the_cli_exits_2():
    with pytest.raises(UsageError) as caught:
        load("--concurrency", "0")
    assert caught.value.exit_code == 2


def test_a_missing_or_malformed_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"--config .*nowhere.toml"):
        load("--config", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match=r"--config .*consumer.toml"):
        load("--config", toml_file(tmp_path, "topic = \n"))


def test_topic_group_and_handler_are_required_from_somewhere():
    with pytest.raises(ConfigError, match="missing --group, --handler"):
        load_settings(parse("--topic", "orders", *SERVICES), env={})


@pytest.mark.parametrize("argv, message", [
    (["--until-time", "2026-11-02"], "--until-time needs --from-time"),
    (["--from-time", "2026-11-02", "--until-time", "2026-11-01"],
     "--until-time must be after --from-time"),
    (["--from-time", "1000", "--until-time", "1000"], "--until-time must be after"),
    (["--dlq-topic", "orders"], "--dlq-topic must differ from --topic"),
])
def test_inconsistent_settings_are_refused(argv, message):
    with pytest.raises(ConfigError, match=message):
        load(*argv)


def test_a_handler_path_without_a_function_is_refused():
    with pytest.raises(ConfigError, match=r"package.module:function"):
        load_settings(parse("--topic", "t", "--group", "g", "--handler", "app.handlers",
                            *SERVICES), env={})


def test_avro_needs_a_registry_and_dedup_needs_redis():
    base = {"topic": "t", "group": "g", "handler": "m:f", "bootstrap": "b:1"}
    with pytest.raises(ConfigError, match="avro needs a schema registry"):
        Settings(**base, redis="redis://r", value_format="avro")
    with pytest.raises(ConfigError, match="dedup needs Redis"):
        Settings(**base, value_format="json", dedup=True)
    assert Settings(**base, value_format="bytes", dedup=False).redis is None


def test_only_services_needed_and_not_named_are_looked_up(monkeypatch):
    asked: list[str] = []

    def resolve(service: str, flag_value: str | None) -> str:
        asked.append(service)
        return f"{service}-from-stack"

    monkeypatch.setattr(endpoints, "resolve", resolve)
    settings = load_settings(parse(*REQUIRED, "--value-format", "json", "--no-dedup"), env={})
    assert asked == ["bootstrap"] and settings.bootstrap == "bootstrap-from-stack"
    asked.clear()
    settings = load_settings(parse(*REQUIRED, "--bootstrap", "b:1"), env={})
    assert asked == ["registry", "redis"]
    assert (settings.registry, settings.redis) == ("registry-from-stack", "redis-from-stack")


def test_batch_size_is_capped_by_the_memory_bound():
    settings = load("--max-buffered", "100", "--batch-size", "500")
    assert (settings.max_buffered, settings.batch_size) == (100, 100)


def test_backfill_times_take_iso_8601_or_epoch_ms():
    settings = load("--from-time", "2026-11-01T00:00:00Z", "--until-time", "1793577600000")
    assert (settings.from_time_ms, settings.until_time_ms) == (1_793_491_200_000,
                                                               1_793_577_600_000)


def test_settings_are_frozen():
    settings = load()
    with pytest.raises(AttributeError):
        settings.concurrency = 1  # type: ignore[misc]


def test_a_reader_schema_that_is_not_a_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"--reader-schema .*order.avsc: no such file"):
        load("--reader-schema", str(tmp_path / "order.avsc"))


def test_read_reader_schema_parses_the_file_or_names_it_in_the_error(tmp_path):
    assert read_reader_schema(None) is None
    schema = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}
    good = tmp_path / "order.avsc"
    good.write_text(json.dumps(schema))
    assert read_reader_schema(str(good)) == schema
    bad = tmp_path / "broken.avsc"
    bad.write_text('{"type": "record",')
    with pytest.raises(ConfigError, match=r"--reader-schema .*broken.avsc"):
        read_reader_schema(str(bad))
    with pytest.raises(ConfigError, match=r"--reader-schema .*missing.avsc"):
        read_reader_schema(str(tmp_path / "missing.avsc"))
