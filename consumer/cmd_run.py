"""``consumer run``: one long-running member of a consumer group for one topic."""

from __future__ import annotations

import argparse

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
    return build_runtime(settings).run()
