"""One scrape for ``consumer run --processes N``: the parent process serves the merged metrics,
liveness and readiness of its member processes.

Each member runs its own ``MetricsServer`` on a loopback port the parent learns (``add``).
prometheus_client's multiprocess mode cannot carry the OpenTelemetry collector, so the parent
scrapes the members' text and merges it: counters and histograms are summed; so are gauges,
except those where each member reports its own share of one quantity (lag of a partition,
a breaker's state), which take the maximum. A member that exits or restarts leaves its last
counts in a retired total so the merged counters never go down (a drop would read as a reset
to ``rate()``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from . import constants as c
from .http_server import Status

MAX_GAUGES = frozenset({c.METRIC_LAG_MESSAGES, c.METRIC_LAG_SECONDS, c.METRIC_BREAKER_STATE})
SCRAPE_TIMEOUT_S = 2.0

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class _Family:
    name: str
    type: str
    documentation: str
    samples: dict[SampleKey, float] = field(default_factory=dict)


def parse(text: str) -> dict[str, _Family]:
    families: dict[str, _Family] = {}
    for parsed in text_string_to_metric_families(text):
        family = families.setdefault(parsed.name, _Family(parsed.name, parsed.type,
                                                          parsed.documentation))
        for sample in parsed.samples:
            family.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families


def _accumulates(family: _Family) -> bool:
    return family.type in ("counter", "histogram", "summary")


class MemberGroup:
    """Registered members by name; ``registry`` renders their merged metrics."""

    def __init__(self, expected_members: int, timeout_s: float = SCRAPE_TIMEOUT_S) -> None:
        self.expected_members = expected_members
        self._members: dict[str, str] = {}
        self._last_seen: dict[str, dict[str, _Family]] = {}
        self._retired: dict[str, _Family] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=timeout_s)
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def add(self, name: str, url: str) -> None:
        """``url`` is the member's server, e.g. ``http://127.0.0.1:41234``."""
        with self._lock:
            self._retire(name)
            self._members[name] = url.rstrip("/")

    def remove(self, name: str) -> None:
        with self._lock:
            self._retire(name)
            self._members.pop(name, None)

    def close(self) -> None:
        self._client.close()

    # -- /metrics ------------------------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        with self._lock:
            members = dict(self._members)
        texts = self._fetch_all(members, "/metrics")
        with self._lock:
            for name, (code, text) in texts.items():
                if code != 200 or name not in self._members:
                    continue
                scraped = parse(text)
                if self._went_down(self._last_seen.get(name, {}), scraped):
                    self._retire(name)
                self._last_seen[name] = scraped
            # A member that does not answer this time still counts with its last counters.
            sources = [self._retired] + [
                {key: fam for key, fam in self._last_seen.get(name, {}).items()
                 if texts[name][0] == 200 or _accumulates(fam)} for name in members]
            merged = _merge(sources)
        for family in merged.values():
            metric = Metric(family.name, family.documentation, family.type)
            for (sample_name, labels), value in family.samples.items():
                metric.add_sample(sample_name, dict(labels), value)
            yield metric

    def _retire(self, name: str) -> None:
        """Folds a member's last counters and histograms into the retired totals."""
        last = self._last_seen.pop(name, {})
        self._retired = _merge([self._retired, {k: f for k, f in last.items() if _accumulates(f)}])

    @staticmethod
    def _went_down(before: dict[str, _Family], now: dict[str, _Family]) -> bool:
        for key, family in now.items():
            if not _accumulates(family) or key not in before:
                continue
            old = before[key].samples
            if any(value < old.get(sample, 0.0) for sample, value in family.samples.items()):
                return True
        return False

    # -- /healthz and /readyz ------------------------------------------------------------
    def liveness(self) -> Status:
        return self._probe("/healthz", need_all_members=False)

    def readiness(self) -> Status:
        return self._probe("/readyz", need_all_members=True)

    def _probe(self, path: str, need_all_members: bool) -> Status:
        with self._lock:
            members = dict(self._members)
        failing = [f"{name}: {text.strip()}" for name, (code, text)
                   in sorted(self._fetch_all(members, path).items()) if code != 200]
        if need_all_members and len(members) < self.expected_members:
            failing.insert(0, f"{len(members)} of {self.expected_members} members started")
        return Status(False, "; ".join(failing)) if failing else Status(True, "ok")

    def _fetch_all(self, members: dict[str, str], path: str) -> dict[str, tuple[int, str]]:
        if not members:
            return {}
        with ThreadPoolExecutor(max_workers=min(len(members), 16)) as pool:
            answers = pool.map(lambda url: self._fetch(url + path), members.values())
            return dict(zip(members, answers, strict=True))

    def _fetch(self, url: str) -> tuple[int, str]:
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            return 0, f"not answering ({type(exc).__name__})"
        return response.status_code, response.text


def _merge(sources: list[dict[str, _Family]]) -> dict[str, _Family]:
    merged: dict[str, _Family] = {}
    for source in sources:
        for key, family in source.items():
            into = merged.setdefault(key, _Family(family.name, family.type, family.documentation))
            use_max = family.type == "gauge" and family.name in MAX_GAUGES
            for sample, value in family.samples.items():
                if sample not in into.samples:
                    into.samples[sample] = value
                elif use_max:
                    into.samples[sample] = max(into.samples[sample], value)
                else:
                    into.samples[sample] += value
    return merged
