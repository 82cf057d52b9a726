"""A real Prometheus (Debian's package) for the tests: started on a free port with a config
of the test's, and its HTTP query API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from consumer import services

PROMETHEUS = shutil.which("prometheus")


@contextmanager
def running_prometheus(config: dict[str, Any], workdir: Path) -> Iterator[str]:
    """Yields the base URL of a Prometheus running ``config``; skips when the binary is
    absent (CI installs it: `.ci/run`)."""
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = services.free_port()
    proc = services.spawn([PROMETHEUS, f"--config.file={config_file}",
                           f"--storage.tsdb.path={workdir / 'tsdb'}",
                           f"--web.listen-address=127.0.0.1:{port}"], workdir / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        services.wait_until(lambda: httpx.get(f"{url}/-/ready").status_code == 200, 30,
                            "prometheus", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def query(url: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", f"{promql}: {answer}"
    return list(answer["data"]["result"])


def by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {row["metric"].get(label, ""): float(row["value"][1]) for row in result}
