from types import SimpleNamespace

from consumer.errors import CrashLoopError, RedisUnavailable
from consumer.recovery import Recovery


class MemoryLedger:
    def __init__(self, counts=None, running=None):
        self.counts = counts or {}
        self.running = running or {}
        self.down = False

    def load(self, partition):
        return dict(self.counts.get(partition, {})), set(self.running.get(partition, ()))

    def starting(self, offsets):
        for partition, started in offsets.items():
            self.running.setdefault(partition, set()).update(started)

    def settled(self, offsets, counted):
        if self.down:
            raise RedisUnavailable("down")
        for partition, done in offsets.items():
            self.running.get(partition, set()).difference_update(done)
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
    return [SimpleNamespace(partition=partition, offset=o, attempt=1, raw=None) for o in offsets]


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
    assert recovery.settled(batch[1]) == [batch[3]]
    assert recovery.settled(batch[3]) == [batch[0], batch[2], batch[4], batch[5]]
    assert not recovery.active and ledger.running[0] == {4}
    assert ledger.counts[0] == {}, "settled suspects leave no count behind"


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
