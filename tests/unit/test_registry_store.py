"""The registry's SQLite store: global ids, version numbering, deletes, levels, durability and
one id for one schema under concurrent writers (threads and two store objects on one file)."""

from __future__ import annotations

import threading

import pytest

from consumer.registry_store import RegistryStore


@pytest.fixture
def store(tmp_path):
    opened = RegistryStore(tmp_path / "registry.db")
    yield opened
    opened.close()


def test_ids_are_global_and_reused_for_the_same_schema(store):
    first = store.add_schema('"string"')
    assert store.add_schema('"int"') == first + 1
    assert store.add_schema('"string"') == first
    assert store.schema(first) == '"string"' and store.schema_id('"int"') == first + 1


def test_versions_never_reuse_a_soft_deleted_number(store):
    schema_id = store.add_schema('"string"')
    assert [store.add_version("s", schema_id) for _ in range(2)] == [1, 2]
    store.soft_delete("s", [2])
    assert [r.version for r in store.versions("s", include_deleted=False)] == [1]
    assert store.add_version("s", schema_id) == 3
    assert [(r.version, r.deleted) for r in store.versions("s", include_deleted=True)] == [
        (1, False), (2, True), (3, False)]
    assert store.subjects() == {"s": True}
    store.soft_delete("s", [1, 3])
    assert store.subjects() == {"s": False}
    store.hard_delete("s", [1, 2, 3])
    assert store.subjects() == {}
    assert store.schema(schema_id) == '"string"'  # ids stay readable for old messages


def test_levels_per_subject_and_global(store):
    assert store.config() is None and store.config("s") is None
    store.set_config("FULL")
    store.set_config("NONE", "s")
    store.set_config("FORWARD", "s")
    assert (store.config(), store.config("s")) == ("FULL", "FORWARD")
    store.delete_config("s")
    assert store.config("s") is None


def test_a_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.add_version("s", store.add_schema('"string"'))
        raise RuntimeError("abort")
    assert store.versions("s", include_deleted=True) == []
    assert store.schema_id('"string"') is None


def test_data_survives_reopening(tmp_path):
    path = tmp_path / "r.db"
    first = RegistryStore(path)
    version = first.add_version("s", first.add_schema('"long"'))
    first.close()
    again = RegistryStore(path)
    assert [(r.version, r.schema) for r in again.versions("s", include_deleted=False)] == [
        (version, '"long"')]
    again.close()


def test_concurrent_writers_give_one_schema_one_id(tmp_path):
    path = tmp_path / "shared.db"
    stores = [RegistryStore(path), RegistryStore(path)]  # like two server processes
    ids: list[int] = []
    barrier = threading.Barrier(16)

    def add(store: RegistryStore, n: int) -> None:
        barrier.wait()
        ids.append(store.add_schema(f'{{"type":"fixed","name":"F{n % 4}","size":1}}'))

    threads = [threading.Thread(target=add, args=(stores[n % 2], n)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 4 and sorted(set(ids)) == [1, 2, 3, 4]
    for store in stores:
        store.close()
