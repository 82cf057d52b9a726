"""``consumer run``: one long-running member of a consumer group for one topic."""

from __future__ import annotations

import argparse
import gc

from .config import add_arguments, load_settings
from .logs import setup_logging


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    run = commands.add_parser(
        "run", help="consume a topic with a handler, at least once",
        description="Runs one member of a consumer group for one topic (--processes N: N "
                    "members under a supervisor that restarts them and serves their metrics). "
                    "Settings: flags > CONSUMER_* env > --config TOML > defaults.")
    add_arguments(run)
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .app import build_runtime

    settings = load_settings(args)
    setup_logging(settings.log_format)
    if settings.processes > 1:
        from .supervisor import supervise

        return supervise(settings, args)
    runtime = build_runtime(settings)
    _tune_garbage_collector()
    return runtime.run()


def _tune_garbage_collector() -> None:
    """Messages held in memory outlive the young generations, so with the defaults full
    collections keep walking every module object loaded at start-up: measured on Avro orders
    (bench/compare.py), collections took ~20% of the full pipeline. Start-up objects stay for
    the life of the process: frozen, the collector leaves them alone; fewer young collections
    keep fewer in-flight messages promoted."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
