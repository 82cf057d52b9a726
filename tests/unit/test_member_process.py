"""What a member of ``consumer run --processes N`` gets from its supervisor and tells it."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from consumer import constants as c
from consumer.cli import build_parser
from consumer.config import load_settings
from consumer.member_process import (
    announce_port,
    announced_port,
    describe_exit,
    member_arguments,
    member_cpus,
    pin_to_member_cpu,
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


@pytest.mark.parametrize("usable, processes, expected", [
    ({0, 1}, 2, [0, 1]),
    ({0, 1, 2, 3}, 3, [0, 1, 2]),
    ({5, 2}, 2, [2, 5]),          # the cores this process may use, not the machine's
    ({0, 1}, 3, [None] * 3),      # more members than cores: the kernel shares them out
    ({0, 1, 2, 3}, 1, [None]),    # one process: its librdkafka threads may use every core
])
def test_each_member_gets_a_core_of_its_own_while_there_are_enough(monkeypatch, usable,
                                                                  processes, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(usable))
    assert member_cpus(processes) == expected


def affinity_in_a_new_thread() -> tuple[set[int], set[int]]:
    """pin_to_member_cpu() called on a thread of its own (it pins the calling thread): that
    thread's CPUs, and those of a thread it starts afterwards."""
    seen: dict[str, set[int]] = {}

    def child() -> None:
        seen["child"] = os.sched_getaffinity(0)

    def member_main() -> None:
        pin_to_member_cpu()
        seen["caller"] = os.sched_getaffinity(0)
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=member_main)
    thread.start()
    thread.join()
    return seen["caller"], seen["child"]


def test_a_member_keeps_its_poll_thread_and_the_threads_it_starts_on_its_cpu(monkeypatch):
    cpu = max(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    monkeypatch.setenv(c.ENV_MEMBER_CPU, str(cpu))
    assert affinity_in_a_new_thread() == ({cpu}, {cpu})
    assert os.sched_getaffinity(0) == before   # only the calling thread was pinned


def test_without_a_cpu_from_the_supervisor_nothing_is_pinned(monkeypatch):
    monkeypatch.delenv(c.ENV_MEMBER_CPU, raising=False)
    usable = os.sched_getaffinity(0)
    assert affinity_in_a_new_thread() == (usable, usable)


def test_a_cpu_it_may_not_use_leaves_the_member_running_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv(c.ENV_MEMBER_CPU, "100000")
    usable = os.sched_getaffinity(0)
    with caplog.at_level(logging.WARNING):
        assert affinity_in_a_new_thread() == (usable, usable)
    assert "could not keep this member on CPU 100000" in caplog.text
