"""``consumer demo``, step by step: the embedded stack, the orders schemas and topics, a stream
of orders with duplicates and poison records, the orders consumer until everything settled,
the summary, then the fix of the handler's bug and a replay of its dead letter.

Every run starts its topics and group afresh and writes new order ids, so a second run ends
with the same figures; the stack is left running for the user to look further.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from .avro_codec import AvroEncoder
from .cmd_lag import GroupLag
from .constants import (
    OUTCOME_DEAD_LETTERED,
    OUTCOME_DUPLICATE,
    OUTCOME_PROCESSED,
    OUTCOME_RETRIED,
)
from .demo_data import DESCRIPTIONS, DUPLICATE, ORDER, POISON_KINDS, REFUND, Plan
from .demo_dlq import HANDLER_LETTERS, read_letters, replay
from .demo_member import Member, MemberSpec
from .demo_report import Figures, Replays, reasons, show_command, sink_rows, step
from .demo_setup import (
    SchemaVersion,
    forget_group_state,
    produce,
    register_schemas,
    reset_topics,
)
from .demo_watch import Settled, watch
from .devstack import state_dir
from .dlq_filter import LetterFilter
from .dlq_replay import default_group
from .errors import DemoError, UsageError

TOPIC = "orders"
DLQ_TOPIC = "orders.dlq"
GROUP = "orders-demo"
PARTITIONS = 4
SUBJECT = "orders-value"
V3_SUBJECT = "orders-v3-value"  # where the v3 producer team registered, bypassing the check
HANDLER = "examples.orders:handle"
MAX_ATTEMPTS = 3
FIX_ENV = {"ORDERS_ACCEPT_REFUNDS": "1"}


def settle_timeout_s(messages: int) -> float:
    """How long the consumer may take before the demo gives up on it: ample at the ~4,000
    messages a second the demo's consumer does here, group join included."""
    return 60.0 + messages / 1000


def source_root() -> Path:
    """The checkout holding ``schemas/`` and ``examples/``: the demo runs from a clone."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "schemas" / "orders-v1.avsc").is_file() or \
            not (root / "examples" / "orders.py").is_file():
        raise UsageError(f"consumer demo needs the schemas/ and examples/ folders of a source "
                         f"checkout next to the package (looked in {root}): clone the "
                         f"repository and pip install -e '.[dev]'")
    return root


def demo_home() -> Path:
    """Next to the embedded stack's state: the SQLite sink and the consumers' logs."""
    return state_dir().parent / "demo"


@dataclass(frozen=True)
class Place:
    root: Path
    home: Path
    services: dict[str, str]
    metrics_port: int

    @property
    def sink(self) -> Path:
        return self.home / "orders.db"

    def member(self, env: dict[str, str] | None = None) -> MemberSpec:
        return MemberSpec(TOPIC, GROUP, HANDLER, self.root / "schemas" / "orders-v1.avsc",
                          self.metrics_port, MAX_ATTEMPTS, self.services, env or {})


@contextmanager
def running(place: Place, spec: MemberSpec, log_name: str) -> Iterator[Member]:
    """A member that is stopped however the block ends (Ctrl-C included)."""
    # The handler's default database is this one already; said explicitly all the same, so
    # the demo never reads a sink other than the one its consumer writes.
    member = Member(spec, cwd=place.root, log_path=place.home / log_name,
                    env={"ORDERS_DB": str(place.sink)})
    try:
        yield member
    finally:
        member.stop()


def prepare(place: Place, out: Console) -> dict[str, AvroEncoder]:
    """Schemas registered, topics and group afresh, an empty sink; the encoders to write with."""
    schemas = place.root / "schemas"
    encoders = register_schemas(place.services["registry"], [
        SchemaVersion("v1", schemas / "orders-v1.avsc", SUBJECT),
        SchemaVersion("v2", schemas / "orders-v2.avsc", SUBJECT),
        SchemaVersion("v3", schemas / "orders-v3.avsc", V3_SUBJECT)])
    step(out, "schemas", f"{SUBJECT}: v1 (id {encoders['v1'].schema_id}) then the compatible "
         f"v2 (id {encoders['v2'].schema_id}); the incompatible v3 only under {V3_SUBJECT} "
         f"(id {encoders['v3'].schema_id})")
    replay_groups = [default_group(DLQ_TOPIC, LetterFilter(), None),
                     default_group(DLQ_TOPIC, HANDLER_LETTERS, None)]
    reset_topics(place.services["bootstrap"], {TOPIC: PARTITIONS, DLQ_TOPIC: PARTITIONS},
                 [GROUP, *replay_groups])
    forgotten = forget_group_state(place.services["redis"], GROUP)
    for stale in (place.sink, *(place.sink.with_name(place.sink.name + s) for s in
                                ("-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    step(out, "topics", f"{TOPIC} ({PARTITIONS} partitions) and {DLQ_TOPIC} created afresh; "
         f"group {GROUP} reset (its offsets, and its {forgotten} keys in Redis)")
    return encoders


def send(place: Place, plan: Plan, encoders: dict[str, AvroEncoder], out: Console) -> None:
    # Piped, a bar shows nothing useful and a transient one leaves an empty line.
    progress = Progress(TextColumn("producing to {task.fields[topic]}"), BarColumn(),
                        MofNCompleteColumn(), console=out, transient=True,
                        disable=not out.is_terminal)
    with progress:
        task = progress.add_task("produce", total=len(plan.records), topic=TOPIC)
        produce(place.services["bootstrap"], TOPIC, plan.records, encoders,
                lambda n: progress.advance(task, n))
    step(out, "produced", f"{len(plan.records):,} records to {TOPIC}: "
         f"{plan.count(ORDER) + plan.count(REFUND):,} orders (the first half as v1, the rest "
         f"as v2; one is a refund), {plan.count(DUPLICATE):,} of them re-sent later, "
         f"{sum(plan.count(kind) for kind in POISON_KINDS)} poison records")


class Consumed(NamedTuple):
    settled: Settled
    lag: int
    """What the broker reports once the consumer stopped."""
    metrics_url: str


def consume(place: Place, plan: Plan, out: Console) -> Consumed:
    """Runs the consumer until the whole plan is settled."""
    spec = place.member()
    out.print()
    show_command(out, spec.shown(Path.cwd()))
    view = GroupLag(place.services["bootstrap"], GROUP, TOPIC, {})
    try:
        with running(place, spec, "consumer.log") as member:
            settled = watch(member, view, total=len(plan.records),
                            description=f"consuming {TOPIC}", console=out,
                            timeout_s=settle_timeout_s(len(plan.records)))
            status = member.stop()
        if status != 0:
            raise DemoError(f"the consumer exited with status {status} on SIGTERM; see its log "
                            f"{member.log_path}")
        out.print("stopped with SIGTERM: drained, committed, exit status 0")
        return Consumed(settled, sum(lag.lag_messages for lag in view.read()), spec.metrics_url)
    finally:
        view.close()


def figures(place: Place, plan: Plan, consumed: Consumed) -> Figures:
    counts = consumed.settled.counts
    letters = read_letters(place.services["bootstrap"], DLQ_TOPIC)
    what = {r.message_id: DESCRIPTIONS[r.kind] for r in plan.records if r.kind in DESCRIPTIONS}
    return Figures(produced=len(plan.records), processed=counts[OUTCOME_PROCESSED],
                   duplicates_dropped=counts[OUTCOME_DUPLICATE], retries=counts[OUTCOME_RETRIED],
                   dead_lettered=counts[OUTCOME_DEAD_LETTERED],
                   dead_letters=reasons(letters, what), lag=consumed.lag,
                   sink_rows=sink_rows(place.sink),
                   distinct_valid_orders=plan.expected().distinct_valid_orders,
                   metrics_url=consumed.metrics_url)


def fix_and_replay(place: Place, plan: Plan, out: Console) -> Replays:
    """The handler's bug fixed (a flag), its dead letter replayed and processed; a second
    replay finds nothing new."""
    out.print(f"\n[bold]the fix[/bold]: the handler rejected a refund. Ship the fix "
              f"({' '.join(f'{k}={v}' for k, v in FIX_ENV.items())}), restart the consumer, "
              f"replay the handler's dead letters:", highlight=False)
    spec = place.member(FIX_ENV)
    show_command(out, spec.shown(Path.cwd(), background=True))
    view = GroupLag(place.services["bootstrap"], GROUP, TOPIC, {})
    try:
        with running(place, spec, "consumer-fixed.log") as member:
            replayed = replay(place.services["bootstrap"], DLQ_TOPIC, TOPIC, out)
            settled = watch(member, view, total=replayed, description="consuming the replay",
                            console=out, timeout_s=settle_timeout_s(replayed))
            rows = sink_rows(place.sink)
            out.print(f"processed {settled.counts[OUTCOME_PROCESSED]} (a dead-lettered id is never "
                      f"recorded done, so dedup lets the replay through); the sink now holds "
                      f"{rows:,} rows", highlight=False)
            out.print("\nonce more, to show that progress is kept:")
            again = replay(place.services["bootstrap"], DLQ_TOPIC, TOPIC, out)
    finally:
        view.close()
    return Replays(replayed=replayed, processed=settled.counts[OUTCOME_PROCESSED], sink_rows=rows,
                   distinct_valid_orders=plan.expected(refunds_accepted=True).distinct_valid_orders,
                   replayed_again=again)
