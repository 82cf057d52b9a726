"""``consumer schemas register|check|list|show|compat``: Avro schemas in the registry, from the
command line and from CI (``check`` exits 1 when a change would break readers or writers)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.syntax import Syntax

from .avro_compat import LEVELS
from .avro_schema import parse_schema
from .cli import add_service_options
from .endpoints import resolve
from .errors import (
    InvalidSchemaError,
    RegistryError,
    RegistryUnavailable,
    ServiceUnavailable,
    UsageError,
)
from .output import console, err_console, print_json, table
from .registry_client import RegistryClient


def _level(text: str) -> str:
    if text.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LEVELS)}")
    return text.upper()


def register(commands: argparse._SubParsersAction) -> None:
    schemas = commands.add_parser("schemas", help="register, check and inspect Avro schemas",
                                  description=__doc__)
    actions = schemas.add_subparsers(dest="action", required=True)

    def action(name: str, help: str, run: Callable[[argparse.Namespace], int],
               *, schema_file: bool = False) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help, description=help)
        if schema_file:
            parser.add_argument("file", type=Path, help="the Avro schema (.avsc)")
            parser.add_argument("--subject", required=True, help="e.g. orders-value")
        parser.add_argument("--json", action="store_true", help="print JSON")
        add_service_options(parser, "registry")
        parser.set_defaults(func=run)
        return parser

    action("register", "register FILE as the next version of a subject (prints its id and "
           "version)", _register, schema_file=True)
    action("check", "check FILE against a subject's compatibility level without registering "
           "it: exit 0 compatible, 1 incompatible", _check, schema_file=True)
    action("list", "list subjects with their latest version, id and level", _list)
    show = action("show", "print a version of a subject's schema", _show)
    show.add_argument("subject")
    show.add_argument("--version", default="latest", help="a version number or latest (default)")
    compat = action("compat", "read, or with --level set, a subject's compatibility level",
                    _compat)
    compat.add_argument("subject")
    compat.add_argument("--level", type=_level, help=" | ".join(LEVELS))


@contextmanager
def _client(args: argparse.Namespace) -> Iterator[RegistryClient]:
    client = RegistryClient(resolve("registry", args.registry))
    try:
        yield client
    except RegistryUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    finally:
        client.close()


def read_schema_file(path: Path) -> str:
    """The schema text of ``path``, checked locally first so a mistake is named precisely."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    try:
        parse_schema(text)
    except InvalidSchemaError as exc:
        raise InvalidSchemaError(f"{path}: {exc}") from None
    return text


def _register(args: argparse.Namespace) -> int:
    text = read_schema_file(args.file)
    with _client(args) as client:
        try:
            registered = client.register(args.subject, text)
        except RegistryError as error:
            if error.status != 409:
                raise
            level, _ = client.compatibility(args.subject)
            return _refused(args, level, client.check(args.subject, text) or [str(error)])
    if args.json:
        print_json({"id": registered.schema_id, "version": registered.version})
    else:
        console.print(f"registered [bold]{args.subject}[/bold] version {registered.version} "
                      f"(schema id {registered.schema_id})")
    return 0


def _check(args: argparse.Namespace) -> int:
    text = read_schema_file(args.file)
    with _client(args) as client:
        reasons = client.check(args.subject, text)
        level, _ = client.compatibility(args.subject)
    if reasons:
        return _refused(args, level, reasons)
    if args.json:
        print_json({"subject": args.subject, "level": level, "compatible": True, "messages": []})
    else:
        console.print(f"compatible: {args.file} may follow {args.subject} ({level})")
    return 0


def _refused(args: argparse.Namespace, level: str, reasons: list[str]) -> int:
    if args.json:
        print_json({"subject": args.subject, "level": level, "compatible": False,
                    "messages": reasons})
    else:
        err_console.print(f"[bold red]incompatible[/bold red]: {args.file} may not follow "
                          f"{args.subject} ({level}):")
        for reason in reasons:
            err_console.print(f"  - {reason}", highlight=False, soft_wrap=True)
    return 1


def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    with _client(args) as client:
        for subject in client.subjects():
            latest = client.version(subject)
            level, own = client.compatibility(subject)
            rows.append({"subject": subject, "versions": client.versions(subject),
                         "latest": latest["version"], "id": latest["id"],
                         "compatibility": level, "subject_level": own})
    if args.json:
        print_json(rows)
    else:
        table(None, ["subject", "versions", "latest", "schema id", "compatibility"],
              [[r["subject"], len(r["versions"]), r["latest"], r["id"],
                r["compatibility"] + ("" if r["subject_level"] else " (global)")] for r in rows])
    return 0


def _show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.version(args.subject, args.version)
    schema = json.loads(found["schema"])
    if args.json:
        print_json({"subject": found["subject"], "version": found["version"],
                    "id": found["id"], "schema": schema})
    else:
        console.print(f"[bold]{found['subject']}[/bold] version {found['version']} "
                      f"(schema id {found['id']})")
        console.print(Syntax(json.dumps(schema, indent=2), "json"))
    return 0


def _compat(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.level:
            level, own = client.set_compatibility(args.subject, args.level), True
        else:
            level, own = client.compatibility(args.subject)
    if args.json:
        print_json({"subject": args.subject, "compatibility": level, "subject_level": own})
    else:
        where = "set on the subject" if own else "global level; the subject sets none"
        console.print(f"{args.subject}: {level} ({where})")
    return 0
