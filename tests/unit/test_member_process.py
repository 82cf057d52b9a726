"""What a member of ``consumer run --processes N`` gets from its supervisor and tells it."""

from __future__ import annotations

import signal

from consumer.cli import build_parser
from consumer.config import load_settings
from consumer.member_process import (
    announce_port,
    announced_port,
    describe_exit,
    member_arguments,
)


def test_members_get_the_same_settings_with_one_process(tmp_path, monkeypatch):
    config = tmp_path / "run.toml"
    config.write_text('handler = "pkg.mod:handle"\nconcurrency = 7\n'
                      '[kafka]\n"security.protocol" = "PLAINTEXT"\n')
    monkeypatch.chdir(tmp_path)
    env = {"CONSUMER_PROCESSES": "4", "CONSUMER_ORDERING": "partition"}
    args = build_parser().parse_args([
        "run", "--config", "run.toml", "--topic=-odd-topic", "--group", "g",
        "--bootstrap", "b:9092", "--no-dedup", "--value-format", "json", "--metrics-port", "0",
        "-X", "fetch.min.bytes=1", "-X", "client.rack=a=b", "--processes", "3"])
    mine = load_settings(args, env)
    member_args = build_parser().parse_args(["run", *member_arguments(args)])
    monkeypatch.chdir("/")  # the config path must not depend on the member's directory
    theirs = load_settings(member_args, env)
    assert mine.processes == 3 and theirs.processes == 1
    assert theirs.kafka == {"security.protocol": "PLAINTEXT", "fetch.min.bytes": "1",
                            "client.rack": "a=b"}
    assert theirs.topic == "-odd-topic" and theirs.ordering == "partition"
    assert theirs.dedup is False
    assert {**vars(theirs), "processes": 3} == vars(mine)


def test_exit_statuses_read_as_an_operator_would():
    assert describe_exit(1) == "exited with status 1"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(-99) == "was killed by signal 99"


def test_a_port_is_read_only_once_announced_whole(tmp_path):
    port_file = tmp_path / "member-0.port"
    assert announced_port(port_file) is None
    announce_port(str(port_file), 41234)
    assert announced_port(port_file) == 41234
    assert [p.name for p in tmp_path.iterdir()] == ["member-0.port"]
