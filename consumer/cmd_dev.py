"""``consumer dev up|down|status``: the embedded stack on loopback."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from .devstack import DevStack
from .output import console, print_json, table


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    dev = commands.add_parser("dev", help="the embedded stack: broker, Redis, schema registry")
    actions = dev.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start it (idempotent) and print the addresses")
    up.add_argument("--json", action="store_true", help="print the addresses as JSON")
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop what `dev up` started")
    down.set_defaults(func=_down)
    status = actions.add_parser("status", help="report each component")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    stack = DevStack()
    spinner = nullcontext() if args.json else console.status("starting the embedded stack…")
    with spinner:
        stack.up()
    addresses = stack.addresses()
    if args.json:
        print_json(addresses)
    else:
        for key, value in addresses.items():
            console.print(f"[bold]{key:<10}[/bold] {value}")
        console.print(f"state and logs in {stack.home}; stop with `consumer dev down`")
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = DevStack().down()
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = DevStack()
    report = stack.status()
    if args.json:
        print_json(report)
    else:
        # Logs live in the stack's home: named once below, so the table fits 80 columns.
        table("embedded stack", ["component", "state", "address", "pid", "log"],
              [[name, _state(r), r["address"], r["pid"], r["log"] and Path(str(r["log"])).name]
               for name, r in report.items()])
        console.print(f"state and logs in {stack.home}")
    return 0 if all(r["answering"] for r in report.values()) else 1


def _state(report: dict[str, object]) -> str:
    if report["answering"]:
        return "answering"
    return "running, not answering" if report["running"] else "stopped"
