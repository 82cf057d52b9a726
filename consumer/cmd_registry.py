"""``consumer registry serve``: the Confluent-compatible schema registry server."""

from __future__ import annotations

import argparse
import logging
import sqlite3
from pathlib import Path

from .constants import DEV_REGISTRY_PORT
from .errors import UsageError


def register(commands: argparse._SubParsersAction) -> None:
    registry = commands.add_parser("registry", help="the schema registry server")
    actions = registry.add_subparsers(dest="action", required=True)
    serve = actions.add_parser(
        "serve", help="serve the Confluent schema registry REST API (Avro), data in SQLite")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    serve.add_argument("--port", type=int, default=DEV_REGISTRY_PORT,
                       help="port to listen on (default %(default)s)")
    serve.add_argument("--data", type=Path, default=Path("registry.db"),
                       help="SQLite file holding the schemas (created if missing; "
                            "default %(default)s)")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .registry_server import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a TCP port")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        serve(args.host, args.port, args.data)
    except OSError as exc:
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise UsageError(f"--data {args.data}: not a usable SQLite file ({exc})") from None
    return 0
