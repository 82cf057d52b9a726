"""``consumer``: the command-line entry point. Each command lives in its own ``cmd_*`` module
that adds its sub-parser; this module only wires them and turns errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from .errors import ConsumerError
from .logs import setup_logging

COMMAND_MODULES = ("cmd_dev", "cmd_run", "cmd_lag", "cmd_registry", "cmd_schemas", "cmd_produce",
                   "cmd_dlq", "cmd_demo")


class Parser(argparse.ArgumentParser):
    """argparse, but bad usage is one line on stderr and exit status 2 (CONTRACT.md)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def add_service_options(parser: argparse.ArgumentParser, *services: str) -> None:
    helps = {
        "bootstrap": "Kafka bootstrap servers (env CONSUMER_BOOTSTRAP; default: the embedded stack)",
        "registry": "schema registry URL (env CONSUMER_REGISTRY_URL; default: the embedded stack)",
        "redis": "Redis URL (env CONSUMER_REDIS_URL; default: the embedded stack)",
    }
    for service in services:
        parser.add_argument(f"--{service}", default=None, help=helps[service])


def build_parser() -> Parser:
    parser = Parser(prog="consumer", description="An at-least-once Kafka consumer runtime: "
                    "registry-validated Avro, dedup, retries, breakers, dead letters.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"consumer.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        setup_logging()
        return int(args.func(args) or 0)
    except ConsumerError as exc:
        sys.stderr.write(f"consumer {args.command}: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
