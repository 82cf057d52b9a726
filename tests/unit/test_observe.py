"""The observer gathers for metrics only while they are on: with ``--metrics-port 0`` nothing
would take the handler durations or the latency sample, and a long run would pile them up."""

from types import SimpleNamespace

from consumer.observe import Observer


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
