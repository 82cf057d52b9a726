"""The observer gathers for metrics only while they are on: with ``--metrics-port 0`` nothing
would take the handler durations or the latency sample, and a long run would pile them up.
Until the member is first assigned, it says that it waits."""

import logging
from types import SimpleNamespace

from consumer import observe
from consumer.observe import JOIN_WARN_AFTER_S, JOIN_WARN_EVERY_S, Observer


def runtime(metrics_port: int) -> SimpleNamespace:
    settings = SimpleNamespace(topic="orders", group="g", metrics_port=metrics_port,
                               value_format="bytes", reader_schema=None,
                               bootstrap="127.0.0.1:9", kafka={})
    return SimpleNamespace(settings=settings, completion=SimpleNamespace(latency_sample=[]),
                           executor=SimpleNamespace(durations=[]), positions=lambda: {})


def test_with_metrics_off_nothing_is_gathered_for_them():
    rt = runtime(metrics_port=0)
    observer = Observer(rt)
    assert rt.executor.durations is None
    assert rt.completion.latency_sample is None
    observer.publish()   # and publishing finds nothing to do
    observer.close()


def test_a_member_not_assigned_yet_says_so_every_so_often_until_it_is(monkeypatch, caplog):
    clock = [1000.0]
    monkeypatch.setattr(observe.time, "monotonic", lambda: clock[0])
    observer = Observer(runtime(metrics_port=0))
    with caplog.at_level(logging.INFO, logger="consumer.observe"):
        observer.start()
        assert "joining group g on 127.0.0.1:9 for orders" in caplog.text

        def warnings_after(seconds: float) -> int:
            clock[0] = 1000.0 + seconds
            observer.turn()
            return sum("still waiting to join group g" in r.message for r in caplog.records)

        assert warnings_after(JOIN_WARN_AFTER_S - 1) == 0
        assert warnings_after(JOIN_WARN_AFTER_S) == 1
        assert warnings_after(JOIN_WARN_AFTER_S + 1) == 1
        assert warnings_after(JOIN_WARN_AFTER_S + JOIN_WARN_EVERY_S) == 2
        observer.ready(True)
        assert warnings_after(JOIN_WARN_AFTER_S + 10 * JOIN_WARN_EVERY_S) == 2
        observer.ready(False)   # assignment lost later: a rebalance, not a join
        assert warnings_after(JOIN_WARN_AFTER_S + 20 * JOIN_WARN_EVERY_S) == 2
    observer.close()
