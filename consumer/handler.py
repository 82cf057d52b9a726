"""Loading the team's handler from ``package.module:function``."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import HandlerLoadError


@dataclass(frozen=True)
class Handler:
    func: Callable[[Any], Any]
    is_async: bool
    path: str


def load_handler(path: str) -> Handler:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise HandlerLoadError(f"--handler {path!r} must look like package.module:function")
    # Like `python -m`, let handlers living next to where the consumer is started import.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerLoadError(f"--handler {path!r}: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # the module itself failed while importing
        raise HandlerLoadError(f"--handler {path!r}: importing {module_name!r} raised "
                               f"{type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HandlerLoadError(f"--handler {path!r}: {module_name!r} has no {attr!r}")
    if not callable(target):
        raise HandlerLoadError(f"--handler {path!r} is not callable")
    is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        type(target).__call__)
    return Handler(target, is_async, path)
