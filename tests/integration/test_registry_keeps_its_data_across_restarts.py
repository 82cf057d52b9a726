"""The registry's data lives in its --data file: after a stop and a start (and with a second
server process on the same file) ids, versions, deletes and levels are all still there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from consumer import services

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@contextmanager
def registry(data: Path, log: Path) -> Iterator[str]:
    port = services.free_port()
    url = f"http://{services.LOOPBACK}:{port}"
    proc = services.spawn(services.registry_command(port, data), log)
    try:
        services.wait_until(lambda: services.registry_answers(url), 30, "registry", proc)
        yield url
    finally:
        proc.terminate()
        assert proc.wait(10) == 0  # SIGTERM is a clean stop


def schema(field: str) -> str:
    return json.dumps({"type": "record", "name": "R", "fields": [
        {"name": field, "type": "int", "default": 0}]})


def test_restart_keeps_everything(tmp_path):
    data = tmp_path / "state" / "registry.db"
    with registry(data, tmp_path / "first.log") as url, httpx.Client(base_url=url) as http:
        first = http.post("/subjects/s/versions", json={"schema": schema("a")}).json()
        second = http.post("/subjects/s/versions", json={"schema": schema("b")}).json()
        http.delete("/subjects/s/versions/2").raise_for_status()
        http.put("/config/s", json={"compatibility": "FULL"}).raise_for_status()

    with registry(data, tmp_path / "second.log") as url, httpx.Client(base_url=url) as http:
        assert http.get("/subjects/s/versions").json() == [1]
        assert http.get("/subjects/s/versions/1").json()["id"] == first["id"]
        assert json.loads(http.get(f"/schemas/ids/{second['id']}/schema").text)["fields"][0][
            "name"] == "b"
        assert http.get("/config/s").json() == {"compatibilityLevel": "FULL"}
        third = http.post("/subjects/s/versions", json={"schema": schema("c")}).json()
        assert third["version"] == 3  # the soft-deleted 2 is never reused
        assert third["id"] > second["id"]

        # A second server process on the same file sees and extends the same registry.
        with registry(data, tmp_path / "twin.log") as twin_url, \
                httpx.Client(base_url=twin_url) as twin:
            again = twin.post("/subjects/t/versions", json={"schema": schema("c")}).json()
            assert again["id"] == third["id"]
        assert http.get("/subjects").json() == ["s", "t"]
