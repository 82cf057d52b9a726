from __future__ import annotations

import pytest
from rich.console import Console

from consumer.cli import main
from consumer.cmd_lag import _as_json, _table, _verdict, age, connection_settings
from consumer.errors import UsageError
from consumer.lag import PartitionLag

LAGS = [PartitionLag("orders", 0, 3, 10, 7, 125.0), PartitionLag("orders", 1, None, 4, 4, None),
        PartitionLag("orders", 2, 9, 9, 0, 0.0)]


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (4.25, "4.2s"), (59.9, "59.9s"), (302, "5m 02s"), (11_040, "3h 04m"),
    (183_600, "2d 03h")])
def test_ages_are_short(seconds, shown):
    assert age(seconds) == shown


def test_max_lag_exit_status_is_1_only_above_the_limit(capsys):
    assert _verdict(LAGS, None) == 0
    assert _verdict(LAGS, 7) == 0
    assert _verdict(LAGS, 6) == 1
    assert "orders/0: 7" in capsys.readouterr().err


def test_json_has_each_partition_and_totals():
    data = _as_json("billing", LAGS)
    assert data["total_lag_messages"] == 11
    assert data["max_lag_seconds"] == 125.0
    assert data["partitions"][1] == {"topic": "orders", "partition": 1, "committed": None,
                                     "high_watermark": 4, "lag_messages": 4, "lag_seconds": None}


def test_table_fits_an_80_column_terminal():
    console = Console(width=80, record=True)
    console.print(_table("billing", LAGS, max_lag=5))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "2m 05s" in text and "total lag 11 messages" in text


@pytest.mark.parametrize("bad", [["--max-lag", "-1"], ["--max-lag", "x"], ["--interval", "0"],
                                 ["--interval", "inf"], ["--interval", "nan"]])
def test_bad_flags_are_one_line_and_exit_2(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lag", "--group", "g", "--bootstrap", "127.0.0.1:1", *bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_only_connection_settings_pass_through():
    assert connection_settings(["security.protocol=SASL_SSL", "sasl.mechanism=PLAIN"]) == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}
    with pytest.raises(UsageError, match=r"fetch\.wait\.max\.ms"):
        connection_settings(["fetch.wait.max.ms=5"])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        connection_settings(["sasl.mechanism"])


def test_a_bad_kafka_setting_is_one_line_and_exit_2(capsys):
    assert main(["lag", "--group", "g", "--bootstrap", "127.0.0.1:1", "-X", "acks=all"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "consumer lag: error: -X acks: only connection settings (security.*, sasl.*, ssl.*, "
        "client.dns*, socket.*) apply here"]


def test_group_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lag"])
    assert exit_info.value.code == 2
