"""The parent of ``consumer run --processes N`` serves one scrape for all its members; here the
members are two real processes (tests/support/metrics_member.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from consumer.http_server import MetricsServer
from consumer.member_metrics import MemberGroup, parse

MEMBER = Path(__file__).parents[1] / "support" / "metrics_member.py"


class Member:
    def __init__(self, stall_after_s: float = 60) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(MEMBER), "orders", "billing", str(stall_after_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def tell(self, *commands: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        for command in commands:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "ok"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def members():
    started: list[Member] = []

    def start(stall_after_s: float = 60) -> Member:
        started.append(Member(stall_after_s))
        return started[-1]

    yield start
    for member in started:
        member.stop()


def merged(group: MemberGroup) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    return {name: family.samples for name, family in
            parse(generate_latest(group.registry).decode()).items()}


def processed(scrape) -> float:
    return scrape["consumer_messages"][
        ("consumer_messages_total", (("outcome", "processed"), ("topic", "orders")))]


def test_one_scrape_sums_counters_and_histograms_and_keeps_each_partitions_lag(members):
    first, second = members(), members()
    first.tell("processed 30", "seconds 0.001 0.2", "lag 0 5 1.5")
    second.tell("processed 12", "seconds 0.001", "lag 1 9 4.0", "lag 0 2 0.5")
    group = MemberGroup(expected_members=2)
    group.add("member-0", first.url)
    group.add("member-1", second.url)
    scrape = merged(group)
    assert processed(scrape) == 42
    histogram = scrape["consumer_processing_seconds"]
    assert histogram[("consumer_processing_seconds_bucket", (("le", "0.001"), ("topic", "orders")))] == 2
    assert histogram[("consumer_processing_seconds_count", (("topic", "orders"),))] == 3
    lag = scrape["consumer_lag_messages"]
    assert lag == {  # during a hand-over both members report partition 0: the larger wins
        ("consumer_lag_messages", (("group", "billing"), ("partition", "0"), ("topic", "orders"))): 5,
        ("consumer_lag_messages", (("group", "billing"), ("partition", "1"), ("topic", "orders"))): 9}
    group.close()


def test_served_over_http_by_the_parent(members):
    first, second = members(), members()
    first.tell("processed 1")
    second.tell("processed 2")
    group = MemberGroup(expected_members=2)
    group.add("member-0", first.url)
    group.add("member-1", second.url)
    with MetricsServer(group.registry, group, host="127.0.0.1", port=0) as server:
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
    assert 'consumer_messages_total{outcome="processed",topic="orders"} 3.0' in text
    group.close()


def test_counters_never_go_down_when_a_member_dies_or_restarts(members):
    first, second = members(), members()
    first.tell("processed 30")
    second.tell("processed 12")
    group = MemberGroup(expected_members=2)
    group.add("member-0", first.url)
    group.add("member-1", second.url)
    assert processed(merged(group)) == 42
    second.stop()
    assert processed(merged(group)) == 42  # not answering: its last counts still count
    replacement = members()
    replacement.tell("processed 1")
    group.add("member-1", replacement.url)
    assert processed(merged(group)) == 43
    first.stop()
    group.remove("member-0")
    assert processed(merged(group)) == 43
    group.close()


def test_a_member_restarting_behind_the_same_address_is_seen_as_a_reset(members):
    first = members()
    first.tell("processed 30")
    group = MemberGroup(expected_members=1)
    group.add("member-0", first.url)
    assert processed(merged(group)) == 30
    group._last_seen["member-0"]["consumer_messages"].samples[
        ("consumer_messages_total", (("outcome", "processed"), ("topic", "orders")))] = 50
    # The member now answers 30 < 50: it restarted, so its 50 before are kept as retired.
    assert processed(merged(group)) == 80
    group.close()


def test_health_of_the_group_names_the_failing_member(members):
    healthy, stalling = members(), members(stall_after_s=0.2)
    group = MemberGroup(expected_members=3)
    group.add("member-0", healthy.url)
    group.add("member-1", stalling.url)
    healthy.tell("beat", "ready")
    stalling.tell("ready")
    time.sleep(0.3)  # past the stalling member's 0.2 s without a heartbeat
    live = group.liveness()
    assert not live.ok and live.detail.startswith("member-1: stalled")
    ready = group.readiness()
    assert not ready.ok and ready.detail == "2 of 3 members started"
    stalling.stop()
    assert "member-1: not answering" in group.liveness().detail
    group.remove("member-1")
    assert group.liveness().ok
    group.close()
