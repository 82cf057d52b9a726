"""``--handler package.module:function``: what loads, and one clear error for each way it
does not."""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from consumer.errors import HandlerLoadError, UsageError
from consumer.handler import load_handler

_names = itertools.count()


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Writes a module of handlers under a fresh name and returns that name; sys.path and
    sys.modules are put back afterwards."""
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    written: list[str] = []

    def write(source: str) -> str:
        name = f"team_handlers_{next(_names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_a_sync_function_loads_as_sync(package):
    module = package("def handle(msg):\n    return ('handled', msg)\n")
    handler = load_handler(f"{module}:handle")
    assert handler.is_async is False
    assert handler.func("m") == ("handled", "m")
    assert handler.path == f"{module}:handle"


def test_an_async_function_loads_as_async(package):
    module = package("async def handle(msg):\n    return msg\n")
    assert load_handler(f"{module}:handle").is_async is True


def test_an_object_with_an_async_call_loads_as_async_and_a_sync_one_as_sync(package):
    module = package("""
        class AsyncHandler:
            async def __call__(self, msg):
                return msg

        class SyncHandler:
            def __call__(self, msg):
                return msg

        async_handler = AsyncHandler()
        sync_handler = SyncHandler()
    """)
    loaded = load_handler(f"{module}:async_handler")
    assert loaded.is_async is True and type(loaded.func).__name__ == "AsyncHandler"
    assert load_handler(f"{module}:sync_handler").is_async is False


def test_a_dotted_attribute_reaches_into_the_module(package):
    module = package("""
        class Orders:
            @staticmethod
            def handle(msg):
                return 'orders'
    """)
    assert load_handler(f"{module}:Orders.handle").func(None) == "orders"


def test_a_module_in_the_working_directory_imports_like_python_dash_m(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    (tmp_path / "cwd_handlers_mod.py").write_text("def handle(msg):\n    return 1\n")
    importlib.invalidate_caches()
    monkeypatch.chdir(tmp_path)
    try:
        assert load_handler("cwd_handlers_mod:handle").func(None) == 1
    finally:
        sys.modules.pop("cwd_handlers_mod", None)


@pytest.mark.parametrize("path", ["app.handlers", "app.handlers:", ":handle", ""])
def test_a_path_without_module_and_function_is_refused(path):
    with pytest.raises(HandlerLoadError, match=r"must look like package.module:function"):
        load_handler(path)


def test_a_missing_module_is_named(package):
    with pytest.raises(HandlerLoadError, match="cannot import 'no_such_team_module'"):
        load_handler("no_such_team_module:handle")


def test_a_missing_dependency_of_the_module_is_named(package):
    module = package("import no_such_dependency_xyz\n\ndef handle(msg):\n    pass\n")
    with pytest.raises(HandlerLoadError, match="no_such_dependency_xyz"):
        load_handler(f"{module}:handle")


def test_a_module_raising_while_importing_says_what_it_raised(package):
    module = package("raise RuntimeError('DATABASE_URL is not set')\n")
    with pytest.raises(HandlerLoadError) as caught:
        load_handler(f"{module}:handle")
    assert str(caught.value) == (f"--handler '{module}:handle': importing '{module}' raised "
                                 "RuntimeError: DATABASE_URL is not set")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_missing_attribute_is_named(package):
    module = package("def handle(msg):\n    pass\n")
    with pytest.raises(HandlerLoadError, match=f"'{module}' has no 'hnadle'"):
        load_handler(f"{module}:hnadle")
    with pytest.raises(HandlerLoadError, match=r"has no 'handle.missing'"):
        load_handler(f"{module}:handle.missing")


def test_something_not_callable_is_refused(package):
    module = package("handle = 'not a function'\n")
    with pytest.raises(HandlerLoadError, match="is not callable"):
        load_handler(f"{module}:handle")


def test_load_errors_are_usage_errors_so_the_cli_exits_2(package):
    with pytest.raises(UsageError) as caught:
        load_handler("no_such_team_module:handle")
    assert caught.value.exit_code == 2
