"""The supervisor of ``consumer run --processes N`` with stand-in members: small Python
processes that exit, crash or wait for a signal as told (the real members are covered by
tests/integration/test_processes_*.py)."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from consumer.errors import ConfigError
from consumer.supervisor import RestartPolicy, Supervisor

# argv: STATE_DIR. Each start appends its pid to STATE_DIR/starts; the Nth start (1-based)
# behaves as STATE_DIR/plan's Nth word says: "exit:CODE", "wait" (until SIGTERM, then exit 0),
# "deaf" (ignores SIGTERM) or "starting" (has no handler yet: SIGTERM kills it). The last word
# repeats.
MEMBER = """
import os, signal, sys, time
state = sys.argv[1]
with open(os.path.join(state, "starts"), "a") as f:
    f.write(f"{os.getpid()} {time.monotonic()}\\n")
with open(os.path.join(state, "starts")) as f:
    n = len(f.readlines())
plan = open(os.path.join(state, "plan")).read().split()
step = plan[min(n, len(plan)) - 1]
if step.startswith("exit:"):
    sys.exit(int(step[5:]))
if step == "deaf":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif step == "wait":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
open(os.path.join(state, f"up-{os.getpid()}"), "w").close()
while True:
    time.sleep(0.05)
"""

FAST = RestartPolicy(initial_backoff_s=0.05, max_backoff_s=0.4, stable_after_s=30)


def supervisor(tmp_path: Path, plan: str, processes: int = 1,
               policy: RestartPolicy = FAST) -> Supervisor:
    (tmp_path / "plan").write_text(plan)
    return Supervisor([sys.executable, "-c", MEMBER, str(tmp_path)], processes,
                      metrics_port=0, shutdown_timeout_s=5, policy=policy)


def starts(tmp_path: Path) -> list[tuple[int, float]]:
    lines = (tmp_path / "starts").read_text().split("\n")
    return [(int(pid), float(at)) for pid, at in (line.split() for line in lines if line)]


def signal_when_up(tmp_path: Path, count: int, *signums: int) -> threading.Thread:
    """Sends ``signums`` to this process (the supervisor) once ``count`` members are up."""
    def send() -> None:
        deadline = time.monotonic() + 20
        while len(list(tmp_path.glob("up-*"))) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        for signum in signums:
            time.sleep(0.3)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_dying_member_is_restarted_later_each_time_it_dies_young(tmp_path):
    sup = supervisor(tmp_path, "exit:1 exit:1 exit:1 exit:0")
    assert sup.run() == 0
    times = [at for _, at in starts(tmp_path)]
    assert len(times) == 4 and sup.restarts == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2


def test_the_backoff_doubles_up_to_its_cap_and_starts_afresh_after_a_stable_run():
    policy = RestartPolicy(initial_backoff_s=1, max_backoff_s=30, stable_after_s=60)
    assert [policy.delay_s(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay_s(10_000) == 30
    with pytest.raises(ConfigError):
        RestartPolicy(initial_backoff_s=5, max_backoff_s=1)


def test_members_that_finish_on_their_own_are_not_restarted(tmp_path):
    sup = supervisor(tmp_path, "exit:0", processes=3)
    assert sup.run() == 0
    assert len(starts(tmp_path)) == 3 and sup.restarts == 0


# argv: STATE_DIR. Writes the CPU its supervisor gave it ("-": none) to STATE_DIR/cpu-PID.
CPU_REPORTER = """
import os, sys
with open(os.path.join(sys.argv[1], f"cpu-{os.getpid()}"), "w") as f:
    f.write(os.environ.get("CONSUMER_MEMBER_CPU", "-"))
"""


@pytest.mark.parametrize("processes, expected", [(2, ["3", "5"]), (3, ["-", "-", "-"])])
def test_each_member_is_told_its_cpu_when_there_is_a_core_for_every_member(
        tmp_path, monkeypatch, processes, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5})
    monkeypatch.setenv("CONSUMER_MEMBER_CPU", "7")   # the supervisor's own env: not passed on
    sup = Supervisor([sys.executable, "-c", CPU_REPORTER, str(tmp_path)], processes,
                     metrics_port=0, shutdown_timeout_s=5, policy=FAST)
    assert sup.run() == 0
    assert sorted(p.read_text() for p in tmp_path.glob("cpu-*")) == expected


def test_a_member_refusing_its_settings_stops_the_group_with_status_2(tmp_path):
    # The first start refuses (bad usage, exit 2); the other member waits and is stopped
    # (under load, perhaps before it could note its own start).
    sup = supervisor(tmp_path, "exit:2 wait", processes=2)
    assert sup.run() == 2
    assert sup.restarts == 0
    assert not [pid for pid, _ in starts(tmp_path) if Path(f"/proc/{pid}").exists()]


def test_a_restarted_member_exiting_2_is_restarted_again(tmp_path):
    # Only a first start that refuses is final: later, status 2 can be a broker not yet back.
    sup = supervisor(tmp_path, "exit:1 exit:2 exit:0")
    assert sup.run() == 0
    assert sup.restarts == 2


def test_sigterm_is_forwarded_once_and_clean_exits_give_0(tmp_path):
    sup = supervisor(tmp_path, "wait", processes=2)
    signal_when_up(tmp_path, 2, signal.SIGTERM)
    assert sup.run() == 0
    assert sup.restarts == 0
    assert not [pid for pid, _ in starts(tmp_path) if Path(f"/proc/{pid}").exists()]


def test_a_member_killed_by_the_stop_while_starting_up_counts_as_stopped_cleanly(tmp_path):
    # A member catches SIGTERM from just before it subscribes: one that dies of it took nothing.
    sup = supervisor(tmp_path, "wait starting", processes=2)
    signal_when_up(tmp_path, 2, signal.SIGTERM)
    assert sup.run() == 0
    assert sup.restarts == 0


def test_a_member_dying_otherwise_during_the_stop_gives_1(tmp_path):
    sup = supervisor(tmp_path, "wait deaf", processes=2)
    signal_when_up(tmp_path, 2, signal.SIGTERM)

    def kill_the_deaf_one() -> None:   # once the stop has begun
        while len(list(tmp_path.glob("up-*"))) < 2:
            time.sleep(0.02)
        time.sleep(1.0)
        os.kill(starts(tmp_path)[1][0], signal.SIGKILL)

    threading.Thread(target=kill_the_deaf_one, daemon=True).start()
    assert sup.run() == 1


def test_a_second_signal_kills_the_members_at_once(tmp_path):
    sup = supervisor(tmp_path, "deaf", processes=2)
    signal_when_up(tmp_path, 2, signal.SIGINT, signal.SIGTERM)
    assert sup.run() == 128 + signal.SIGTERM
    assert not [pid for pid, _ in starts(tmp_path) if Path(f"/proc/{pid}").exists()]


def test_signal_handlers_are_given_back_after_the_run(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    supervisor(tmp_path, "exit:0").run()
    assert signal.getsignal(signal.SIGTERM) is before
