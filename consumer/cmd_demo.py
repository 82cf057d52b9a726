"""``consumer demo``: the main job end to end on the embedded stack, in well under a minute
once the stack is up (the steps are in consumer/demo.py). Exit 0 when every figure is right,
1 when one disagrees with what was produced, 2 when a service cannot be started or reached."""

from __future__ import annotations

import argparse
import secrets
import shlex
import signal
import time
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from .constants import DEFAULT_METRICS_PORT
from .demo import (
    DLQ_TOPIC,
    GROUP,
    HANDLER,
    TOPIC,
    Place,
    consume,
    demo_home,
    figures,
    fix_and_replay,
    prepare,
    send,
    source_root,
)
from .demo_data import REFUND, plan_orders
from .demo_dlq import show_letters
from .demo_member import GROUP_TIMINGS, metrics_port, shown_path
from .demo_report import Summary, figures_table, step
from .devstack import DevStack
from .output import console, err_console, print_json
from .services import LOOPBACK

DEFAULT_ORDERS = 3000
PLAN_SEED = 20261122
MAX_ORDERS = 1_000_000


def _orders(text: str) -> int:
    if not text.isdigit() or not 10 <= int(text) <= MAX_ORDERS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 10 to {MAX_ORDERS:,}, "
                                         f"got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    demo = commands.add_parser(
        "demo", help="orders end to end on the embedded stack: dedup, dead letters, replay",
        description="Starts the embedded stack (if needed), registers the orders schemas, "
        f"creates the {TOPIC} topic afresh, produces orders with duplicates and poison "
        "records, runs the orders consumer until everything is settled, prints a checked "
        "summary, then fixes the handler's bug and replays its dead letter. The stack is "
        "left running; `consumer dev down` stops it.")
    demo.add_argument("--orders", type=_orders, default=DEFAULT_ORDERS, metavar="N",
                      help=f"orders to produce (default {DEFAULT_ORDERS}; ~3%% are re-sent)")
    demo.add_argument("--metrics-port", type=_port, default=DEFAULT_METRICS_PORT, metavar="PORT",
                      help=f"the consumer's metrics port (default {DEFAULT_METRICS_PORT}; a "
                      "free one when taken)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on "
                      "stdout (the rest goes to stderr)")
    demo.set_defaults(func=_run)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # An exception, unlike the default action, runs the cleanup that stops the consumer.
    raise SystemExit(128 + signum)


def _run(args: argparse.Namespace) -> int:
    out = err_console if args.json else console
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        summary = _story(args, out)
    except KeyboardInterrupt:
        err_console.print("interrupted: no consumer of the demo is left running; the stack "
                          "keeps running (`consumer dev down` stops it)", highlight=False)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print_json(summary.as_json())
    summary.raise_problems()
    return 0


def _story(args: argparse.Namespace, out: Console) -> Summary:
    root = source_root()
    out.rule("[bold]consumer demo[/bold]: orders, end to end", align="left")
    stack = DevStack()
    with out.status("starting the embedded stack…"):
        stack.up()
    services = stack.addresses()
    began = time.monotonic()
    step(out, "stack", f"broker {services['bootstrap']} · registry {services['registry']} · "
         f"redis {services['redis']}")
    # Chosen once: the second consumer binds it again (the metrics server reuses addresses).
    place = Place(root, demo_home(), services, metrics_port(args.metrics_port))
    encoders = prepare(place, out)
    # The same stream every run, under new order ids: nothing a run leaves behind can pass
    # for this run's data.
    plan = plan_orders(args.orders, run_id=secrets.token_hex(3), seed=PLAN_SEED,
                       start_ms=int(time.time() * 1000))
    send(place, plan, encoders, out)

    expected = plan.expected()
    summary = Summary(figures(place, plan, consume(place, plan, out)))
    summary.check_run(expected)
    out.print()
    out.print(figures_table(summary.figures, expected, DLQ_TOPIC))
    show_letters(services["bootstrap"], DLQ_TOPIC, out)
    summary.replays = fix_and_replay(place, plan, out)
    summary.check_replays(plan.count(REFUND))
    summary.seconds = round(time.monotonic() - began, 1)
    _next_steps(place, out)
    verdict = "[green]all figures check out[/green]" if not summary.problems else \
        f"[red]{len(summary.problems)} figure(s) disagree[/red]"
    out.print(f"\n{verdict}; {summary.seconds:.1f}s after the stack was up")
    return summary


def _next_steps(place: Place, out: Console) -> None:
    cwd = Path.cwd()
    reader = shown_path(str(place.root / "schemas" / "orders-v1.avsc"), cwd)
    timings = " ".join(f"-X {key}={value}" for key, value in GROUP_TIMINGS.items())
    port = place.metrics_port
    port_flag = "" if port == DEFAULT_METRICS_PORT else f" --metrics-port {port}"
    steps = [
        ("the dead letters, with their context",
         f"consumer dlq inspect --topic {DLQ_TOPIC}"),
        ("committed offsets and lag per partition", f"consumer lag --group {GROUP}"),
        ("the idempotent sink: one row per order",
         f"sqlite3 {shlex.quote(shown_path(str(place.sink), cwd))} "
         "'SELECT status, count(*) FROM orders GROUP BY status'"),
        ("run the consumer yourself; -X makes the embedded broker admit it sooner",
         f"consumer run --topic {TOPIC} --group {GROUP} --handler {HANDLER} "
         f"--reader-schema {reader}{port_flag} {timings}"),
        ("its metrics, while it runs", f"curl http://{LOOPBACK}:{port}/metrics"),
    ]
    out.print("\n[bold]The stack is still running.[/bold] Look further"
              + ("" if cwd == place.root else f" (from {escape(str(place.root))})") + ":")
    for comment, command in [*steps, ("stop the stack", "consumer dev down")]:
        out.print(Text(f"  # {comment}", style="dim"))
        out.print(Text(f"  {command}"), soft_wrap=True)
