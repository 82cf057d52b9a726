"""Many clients registering at once: the same schema gets one id everywhere, and different
schemas under one subject get distinct, gap-free versions."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

THREADS = 16


def run_together(work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def one(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def schema(name: str, field: str = "a") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": field, "type": "int"}]})


def test_the_same_schema_registered_at_once_gets_one_id(registry_url, unique):
    text = schema(f"Same{unique}")

    def register(index: int) -> object:
        with httpx.Client(base_url=registry_url, timeout=30) as http:
            answer = http.post(f"/subjects/same-{unique}-{index % 4}/versions",
                               json={"schema": text})
            answer.raise_for_status()
            return answer.json()

    results = run_together(register)
    assert len({r["id"] for r in results}) == 1  # type: ignore[index]
    assert {r["version"] for r in results} == {1}  # type: ignore[index]
    with httpx.Client(base_url=registry_url, timeout=30) as http:
        for index in range(4):
            assert http.get(f"/subjects/same-{unique}-{index}/versions").json() == [1]


def test_different_schemas_under_one_subject_get_distinct_versions(registry_url, unique):
    subject = f"many-{unique}"
    with httpx.Client(base_url=registry_url, timeout=30) as http:
        http.put(f"/config/{subject}", json={"compatibility": "NONE"}).raise_for_status()

    def register(index: int) -> object:
        with httpx.Client(base_url=registry_url, timeout=30) as http:
            answer = http.post(f"/subjects/{subject}/versions",
                               json={"schema": schema("Many", f"f{index}")})
            answer.raise_for_status()
            return answer.json()

    results = run_together(register)
    assert sorted(r["version"] for r in results) == list(range(1, THREADS + 1))  # type: ignore[index]
    assert len({r["id"] for r in results}) == THREADS  # type: ignore[index]
