"""The runtime of ``consumer run``: one member of a consumer group for one topic.

``Runtime._step`` is the pipeline's table of contents. The poll thread owns the Kafka
consumer and every stage but the handler calls, which run on the executor (threads for sync
handlers, an event loop for async ones), so a slow handler never holds the poll loop.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from .backfill import Backfill
from .completion import Completion
from .config import Settings
from .decode import Decoder
from .feed import Feeder
from .flow import Flow
from .member_process import pin_to_member_cpu
from .observe import Observer
from .offsets import PartitionTracker
from .outcome import Verdict
from .rebalance import Rebalancer
from .recovery import Recovery
from .tracing import MessageTracer

log = logging.getLogger(__name__)

BUSY_POLL_S = 0.005    # work in memory: come back soon to settle outcomes
IDLE_POLL_S = 0.2
HELD_RETRY_S = 1.0     # how often records waiting for the registry are decoded again
# At the in-memory bound the loop stops taking records until half of it has drained, and
# fetching pauses only if that takes longer than this. A pause drops the records librdkafka
# prefetched, fetched again on resume (a round trip; ~1 s on Tansu): a fast pipeline whose
# bound is near its working set, pausing at every peak, read 2.4k msg/s instead of ~50k.
BUFFER_PAUSE_AFTER_S = 0.25
SWITCH_INTERVAL_S = 0.02   # see tune_interpreter


class Runtime:
    def __init__(self, settings: Settings, *, consumer: Consumer, decoder: Decoder,
                 executor: Any, feeder: Feeder, duplicates: Any, dead_letters: Any,
                 policy: Any, recovery: Recovery | None, backfill: Backfill | None,
                 tracer: MessageTracer | None = None) -> None:
        self.settings = settings
        self.consumer = consumer
        self.decoder = decoder
        self.executor = executor
        self.feeder = feeder
        self.duplicates = duplicates
        self.recovery = recovery
        self.backfill = backfill
        self._tracer = tracer
        self.trackers: dict[int, PartitionTracker] = {}
        self.flow = Flow(consumer, settings.topic)
        self._marks_writer = ThreadPoolExecutor(1, thread_name_prefix="done-marks")
        self.completion = Completion(consumer=consumer, executor=executor, feeder=feeder,
                                     duplicates=duplicates, dead_letters=dead_letters,
                                     policy=policy, recovery=recovery,
                                     marks_writer=self._marks_writer)
        self.rebalancer = Rebalancer(self)
        self.observer = Observer(self)
        self.stopping = threading.Event()
        self._held_retry_at = 0.0
        self._holding_since: float | None = None   # since the bound was reached, until drained

    # -- the pipeline --------------------------------------------------------------------
    def _step(self) -> None:
        """poll -> decode/validate -> dedup -> dispatch -> handler -> outcome."""
        raws = self._poll()                                          # poll
        if raws:
            messages, failures = self.decoder.decode(raws, self.trackers)   # decode/validate
            self.observer.decoded(messages)
            self.completion.data_errors(failures)                 # bad data: dead-letter
            self._admit(messages)                        # dedup -> dispatch (screened there)
            if self.recovery is not None and self.recovery.active:
                self._note_fetched(raws)   # after admit: suspects among them are classified
            if self.backfill is not None:
                self._bound_backfill()
        if self.recovery is not None:
            self.feeder.add(self.recovery.poll())
            while self.recovery.crash_looped:
                self.completion.reject(*self.recovery.crash_looped.pop())
        self._retry_held()
        self.completion.found_done(self.feeder.feed())            # -> handler (executor)
        self.executor.nudge()
        self.completion.settle()                                  # outcome
        self.completion.store_offsets(self.trackers)              # commit (background)
        self._regulate()                                          # pause | resume
        self.observer.turn()
        if self.backfill is not None:
            assigned = set(self.trackers)
            self.backfill.progress(self.completion.counts, assigned)
            if self.backfill.finished(assigned) and not self.buffered:
                log.info("backfill done: every partition passed %d", self.backfill.until_ms)
                self.stopping.set()

    def _poll(self) -> list[Any]:
        if self._holding_since is not None and not self.flow.paused:
            self._hold_turn()
            return []
        buffered = self.buffered
        room = self.settings.max_buffered - buffered
        count = min(self.settings.batch_size, room) if room > 0 else 1
        # consume(n, t) waits for n records or t: take what is there without waiting, and
        # only when nothing is, wait for one record (then take whatever came with it).
        batch: list[Any] = self.consumer.consume(count, 0)
        if batch:
            return batch
        batch = self.consumer.consume(1, BUSY_POLL_S if buffered else IDLE_POLL_S)
        if batch and count > 1:
            batch += self.consumer.consume(count - 1, 0)
        return batch

    def _hold_turn(self) -> None:
        """At the bound, a turn takes no records; it waits only when it has nothing else to
        do, and then until the done marks' round trip returns (what frees most room when
        handlers are fast) or BUSY_POLL_S at most, for handlers to make room."""
        completion = self.completion
        if completion.settle_due or self.feeder.room() > 0:
            return
        record_out = completion.record_out
        if record_out is not None:
            futures.wait([record_out], timeout=BUSY_POLL_S)
        else:
            self.stopping.wait(BUSY_POLL_S)

    def _admit(self, messages: list[Any]) -> None:
        if self.duplicates is not None:
            messages = self.duplicates.admit(messages)
        self.completion.submit(messages)

    def _bound_backfill(self) -> None:
        assert self.backfill is not None
        for message in self.decoder.outside:
            self.completion.finish(message, Verdict.SKIPPED)
        self.decoder.outside.clear()
        for partition in self.decoder.ends_reached:
            self.backfill.reached_end(partition)
        self.decoder.ends_reached.clear()

    def _note_fetched(self, raws: list[Any]) -> None:
        assert self.recovery is not None
        for raw in raws:
            if raw.error() is None:
                self.recovery.fetched_past(raw.partition(), raw.offset())

    def _retry_held(self) -> None:
        if not self.decoder.held or time.monotonic() < self._held_retry_at:
            return
        self._held_retry_at = time.monotonic() + HELD_RETRY_S
        messages, failures = self.decoder.retry_held()
        self.observer.decoded(messages)
        self.completion.data_errors(failures)
        if messages:
            self._admit(messages)

    def _regulate(self) -> None:
        buffered, bound = self.buffered, self.settings.max_buffered
        flow = self.flow
        if self.recovery is not None:
            flow.await_partitions(self.recovery.awaited)
        if self._holding_since is None:
            if buffered >= bound:
                self._holding_since = time.monotonic()
        elif buffered <= bound // 2:
            self._holding_since = None
        flow.hold("buffer", self._holding_since is not None
                  and time.monotonic() - self._holding_since >= BUFFER_PAUSE_AFTER_S)
        flow.hold("dispatch held", self.executor.gated())
        flow.hold("registry", bool(self.decoder.held))
        redis_down = self.feeder.redis_down or \
            (self.duplicates is not None and self.duplicates.redis_down) or \
            (self.recovery is not None and self.recovery.redis_down)
        flow.hold("redis", redis_down and self.settings.redis_down == "pause")

    @property
    def buffered(self) -> int:
        """Messages in memory: taken in and not settled (queued, running, retrying, waiting)."""
        return sum(len(t) for t in self.trackers.values())

    # -- partitions ----------------------------------------------------------------------
    def start_offsets(self, consumer: Consumer, partitions: list[TopicPartition],
                      committed: dict[int, int]) -> list[TopicPartition]:
        """Where newly assigned partitions start: their committed offsets (librdkafka's
        default when left unset), or a backfill's start."""
        if self.backfill is None:
            return partitions
        return self.backfill.start_offsets(consumer, partitions, committed)

    def queued(self) -> list[Any]:
        """Messages taken in and not handed to a handler yet."""
        return self.executor.queued() + self.feeder.queued()

    def positions(self) -> dict[int, int | None]:
        """partition -> commit position, for the lag reporter's thread."""
        return {p: t.position for p, t in list(self.trackers.items())}

    def discard(self, keep: Callable[[Any], bool]) -> None:
        """Forgets buffered work ``keep`` rejects, wherever it waits; its offsets are
        abandoned (never committed here), and first copies of an id among it hand their turn
        to a later copy that is kept."""
        dropped = self.decoder.drop_held(keep)
        if self.duplicates is not None:
            dropped += self.duplicates.drop(keep)
        first_copies = self.executor.drop(keep) + self.feeder.drop(keep)
        if self.recovery is not None:
            first_copies += self.recovery.discard(keep)
        for message in dropped + first_copies:
            message.tracker.abandon(message.offset)
        if self.duplicates is not None:
            for message in first_copies:
                successors = self.duplicates.settled(message, succeeded=False)
                self.completion.submit([m for m in successors if keep(m)])

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        tune_interpreter()
        pin_to_member_cpu()   # before the executor and the observer start their threads
        rb = self.rebalancer
        self.consumer.subscribe([self.settings.topic], on_assign=rb.on_assign,
                                on_revoke=rb.on_revoke, on_lost=rb.on_lost)
        self.executor.start()
        self.observer.start()
        try:
            while not self.stopping.is_set():
                self._step()
            log.info("stopping: draining for up to %.0fs", self.settings.shutdown_timeout_s)
            self.observer.ready(False, "shutting down")
            self.flow.hold("shutdown", True)
            rb.let_go(set(self.trackers), self.settings.shutdown_timeout_s, commit=True)
        finally:
            self.executor.stop(1.0)
            self._marks_writer.shutdown(wait=False)   # a mark still out is never committed
            self.consumer.close()
            self.observer.close()
            if self._tracer is not None:
                self._tracer.close()   # spans still queued for export go out
        log.info("stopped: %s", dict(self.completion.counts))
        return 0

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.stopping.is_set():
                os._exit(128 + signum)  # the second signal: at once, nothing more committed
            self.stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)


def tune_interpreter() -> None:
    """The garbage collector: messages held in memory outlive the young generations, so with
    the defaults full collections keep walking every module object loaded at start-up:
    measured on Avro orders (bench/compare.py), collections took ~20% of the full pipeline.
    Start-up objects stay for the life of the process: frozen, the collector leaves them
    alone; fewer young collections keep fewer in-flight messages promoted.

    The GIL's switch interval: a handler thread that waits for the GIL makes the poll thread
    hand it over after SWITCH_INTERVAL_S, in the middle of a turn. At Python's 5 ms that
    happened within most turns (a batch of 1000 Avro orders took ~15 ms to decode); at 20 ms
    the handlers mostly run while the poll thread waits in ``consume()`` or on Redis, as it
    does every turn, and every hand-over costs both threads their caches (Avro orders: 3%
    more msg/s with one process in 4 interleaved pairs, 4% with two in 6). Only a saturated
    process is affected."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
