"""An ``concurrent.futures.Executor`` that runs each call at once on the caller's thread: for
unit tests of stages that hand work to a thread of their own in the runtime."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class InlineExecutor(Executor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the caller reads it from the future, as from a thread
            future.set_exception(error)
        return future
