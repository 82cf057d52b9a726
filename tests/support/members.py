"""Looking at ``consumer run --processes N`` from outside: its member processes, its merged
scrape, and what each member logged when it stopped."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def probe(port: int, path: str) -> int:
    """The HTTP status of ``/healthz`` or ``/readyz``, 0 when nothing answers."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def processed(samples: Samples, topic: str) -> float:
    return samples.get(("consumer_messages_total",
                        (("outcome", "processed"), ("topic", topic))), 0.0)


def processed_at_stop(log_file: Path) -> list[int]:
    """What each process that stopped cleanly had processed, from its last log line."""
    return [int(n) for n in re.findall(r"stopped: \{[^}]*'processed': (\d+)", log_file.read_text())]
