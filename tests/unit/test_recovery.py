from types import SimpleNamespace

from consumer.errors import CrashLoopError, RedisUnavailable
from consumer.ledger import pack_offsets, unpack_offsets
from consumer.recovery import Recovery


class MemoryLedger:
    def __init__(self, counts=None, running=None):
        self.counts = counts or {}
        # partition -> set of packed batches
        self.running = {p: {pack_offsets(sorted(o))} for p, o in (running or {}).items()}
        self.down = False

    def load(self, partition):
        offsets = {o for member in self.running.get(partition, ()) for o in unpack_offsets(member)}
        return dict(self.counts.get(partition, {})), offsets

    def starting(self, batches):
        if self.down:
            raise RedisUnavailable("down")
        for partition, member in batches.items():
            self.running.setdefault(partition, set()).add(member)

    def settled(self, batches, counted):
        if self.down:
            raise RedisUnavailable("down")
        for partition, members in batches.items():
            self.running.get(partition, set()).difference_update(members)
        for partition, done in counted.items():
            for offset in done:
                self.counts.get(partition, {}).pop(offset, None)

    def charge(self, partition, offset):
        if self.down:
            raise RedisUnavailable("down")
        per = self.counts.setdefault(partition, {})
        per[offset] = per.get(offset, 0) + 1
        return per[offset]

    def release(self, partition):
        self.running.pop(partition, None)


def msgs(partition, offsets):
    return [SimpleNamespace(partition=partition, offset=o, attempt=1, raw=None, batch=None)
            for o in offsets]


def test_a_clean_partition_runs_everything_at_once():
    recovery = Recovery(MemoryLedger(), max_attempts=3)
    recovery.assigned(0, committed=10)
    batch = msgs(0, range(10, 20))
    assert recovery.admit(batch) == batch and not recovery.active


def test_after_a_crash_only_what_was_in_flight_runs_one_at_a_time_then_the_rest():
    ledger = MemoryLedger(running={0: {11, 13, 4}})   # 4: below the commit, long settled
    recovery = Recovery(ledger, max_attempts=3)
    recovery.assigned(0, committed=10)
    batch = msgs(0, range(10, 16))
    assert recovery.admit(batch) == [batch[1]]
    assert batch[1].attempt == 2        # the crash may have been its first attempt
    assert recovery.settled([batch[1]]) == [batch[3]]
    assert recovery.settled([batch[3]]) == [batch[0], batch[2], batch[4], batch[5]]
    assert not recovery.active
    assert ledger.counts[0] == {}, "settled suspects leave no count behind"


def test_running_batches_are_on_record_until_every_message_of_them_settles():
    ledger, now = MemoryLedger(), [0.0]
    recovery = Recovery(ledger, max_attempts=3, clock=lambda: now[0])
    first, second = msgs(0, [5, 6]), msgs(1, [9])
    recovery.plan_start(first + second).record()
    assert ledger.load(0)[1] == {5, 6} and ledger.load(1)[1] == {9}
    recovery.settled([first[0], second[0]])
    recovery.poll()
    assert ledger.load(0)[1] == {5, 6} and ledger.load(1)[1] == set()
    recovery.settled([first[1]])
    recovery.poll()
    assert ledger.load(0)[1] == {5, 6}, "forgotten in batches, a few times a second"
    now[0] += 1.0
    recovery.poll()
    assert ledger.load(0)[1] == set()


def test_a_suspect_whose_attempts_are_spent_is_dead_lettered_unrun():
    # Two charged crashes, plus the first, uncharged one: three attempts happened.
    recovery = Recovery(MemoryLedger(counts={0: {11: 2}}, running={0: {11}}), max_attempts=3)
    recovery.assigned(0, committed=11)
    poison, after = msgs(0, [11, 12])
    assert recovery.admit([poison, after]) == [after]
    [(message, error)] = recovery.crash_looped
    assert message is poison and poison.attempt == 3 and isinstance(error, CrashLoopError)


def test_a_suspect_that_never_reaches_admit_does_not_hold_the_rest():
    recovery = Recovery(MemoryLedger(running={0: {11}}), max_attempts=3)
    recovery.assigned(0, committed=10)
    batch = msgs(0, [10, 12])        # 11 was a duplicate, say: settled before admit
    recovery.fetched_past(0, 12)
    assert recovery.admit(batch) == batch


def test_counts_from_a_previous_owner_carry_over():
    recovery = Recovery(MemoryLedger(counts={1: {5: 2}}), max_attempts=5)
    recovery.assigned(1, committed=3)
    batch = msgs(1, [3, 4, 5])
    recovery.admit(batch)
    assert [m.attempt for m in batch] == [1, 1, 3]


def test_redis_down_while_charging_holds_the_suspect_until_it_answers():
    ledger = MemoryLedger(running={0: {1}})
    recovery = Recovery(ledger, max_attempts=3)
    recovery.assigned(0, committed=0)
    ledger.down = True
    batch = msgs(0, [1, 2])
    assert recovery.admit(batch) == [] and recovery.redis_down
    ledger.down = False
    assert recovery.poll() == [batch[0]]


def test_only_a_clean_release_forgets_what_was_running():
    ledger = MemoryLedger()
    recovery = Recovery(ledger, max_attempts=3)
    recovery.plan_start(msgs(0, [5]) + msgs(1, [9])).record()
    recovery.released(0, clean=False)      # lost: the next owner must look at offset 5
    recovery.released(1, clean=True)
    assert ledger.load(0)[1] == {5} and ledger.load(1)[1] == set()


def test_keep_going_without_redis_runs_a_suspect_uncharged():
    ledger = MemoryLedger(running={0: {1}})
    recovery = Recovery(ledger, max_attempts=3, keep_going_without_redis=True)
    recovery.assigned(0, committed=0)
    ledger.down = True
    batch = msgs(0, [1, 2])
    assert recovery.admit(batch) == [batch[0]] and recovery.redis_down
    assert batch[0].attempt == 1


def test_discard_drops_waiting_suspects_and_held_messages_of_a_revoked_partition():
    recovery = Recovery(MemoryLedger(running={0: {1, 2}}), max_attempts=3)
    recovery.assigned(0, committed=0)
    batch = msgs(0, [1, 2, 3])
    assert recovery.admit(batch) == [batch[0]]
    dropped = recovery.discard(lambda m: m.partition != 0)
    assert [m.offset for m in dropped] == [2, 3]


def test_partitions_with_suspects_not_fetched_yet_are_awaited_until_fetched():
    recovery = Recovery(MemoryLedger(running={0: {500}, 1: {7}}), max_attempts=3)
    recovery.assigned(0, committed=10)
    recovery.assigned(1, committed=0)
    recovery.assigned(2, committed=0)
    assert recovery.awaited == {0, 1}
    assert recovery.admit(msgs(2, range(5))) == []      # held behind the suspects
    recovery.fetched_past(0, 499)
    assert recovery.awaited == {0, 1}
    recovery.admit(msgs(1, [7]))
    assert recovery.awaited == {0}
    recovery.fetched_past(0, 500)
    assert recovery.awaited == frozenset()
