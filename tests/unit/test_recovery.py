from types import SimpleNamespace

from consumer.errors import CrashLoopError, RedisUnavailable
from consumer.recovery import Recovery


class MemoryLedger:
    def __init__(self, counts=None, marks=None):
        self.counts = counts or {}
        self.marks = marks or {}
        self.down = False

    def load(self, partition):
        return dict(self.counts.get(partition, {})), self.marks.get(partition)

    def mark(self, highest):
        if self.down:
            raise RedisUnavailable("down")
        self.marks.update(highest)

    def charge(self, partition, offset):
        if self.down:
            raise RedisUnavailable("down")
        per = self.counts.setdefault(partition, {})
        per[offset] = per.get(offset, 0) + 1
        return per[offset]

    def clear(self, offsets):
        for partition, settled in offsets.items():
            for offset in settled:
                self.counts.get(partition, {}).pop(offset, None)

    def release(self, partition):
        self.marks.pop(partition, None)


def msgs(partition, offsets):
    return [SimpleNamespace(partition=partition, offset=o, attempt=1, raw=None) for o in offsets]


def test_a_clean_partition_runs_everything_at_once_and_marks_it():
    ledger = MemoryLedger()
    recovery = Recovery(ledger, max_attempts=3)
    recovery.assigned(0, committed=10)
    batch = msgs(0, range(10, 20))
    assert recovery.admit(batch) == batch
    assert ledger.marks == {0: 19} and not recovery.active


def test_after_a_crash_suspects_run_one_at_a_time_then_the_rest():
    ledger = MemoryLedger(marks={0: 12})
    recovery = Recovery(ledger, max_attempts=3)
    recovery.assigned(0, committed=10)
    batch = msgs(0, range(10, 16))
    assert recovery.admit(batch) == [batch[0]]
    assert batch[0].attempt == 2        # the crash may have been its first attempt
    assert recovery.settled(batch[0]) == [batch[1]]
    assert recovery.settled(batch[1]) == [batch[2]]
    assert recovery.settled(batch[2]) == batch[3:]   # suspects done: the rest, marked
    assert not recovery.active and ledger.marks[0] == 15


def test_a_suspect_whose_attempts_are_spent_is_dead_lettered_unrun():
    # Two charged crashes, plus the first, uncharged one: three attempts happened.
    ledger = MemoryLedger(counts={0: {11: 2}}, marks={0: 11})
    recovery = Recovery(ledger, max_attempts=3)
    recovery.assigned(0, committed=11)
    (poison, after) = msgs(0, [11, 12])
    assert recovery.admit([poison, after]) == [after]
    [(message, error)] = recovery.crash_looped
    assert message is poison and poison.attempt == 3 and isinstance(error, CrashLoopError)


def test_counts_from_a_previous_owner_carry_over():
    ledger = MemoryLedger(counts={1: {5: 2}})
    recovery = Recovery(ledger, max_attempts=5)
    recovery.assigned(1, committed=3)
    batch = msgs(1, [3, 4, 5])
    recovery.admit(batch)
    assert [m.attempt for m in batch] == [1, 1, 3]


def test_redis_down_holds_messages_until_it_answers():
    ledger = MemoryLedger()
    ledger.down = True
    recovery = Recovery(ledger, max_attempts=3)
    batch = msgs(0, [1, 2])
    assert recovery.admit(batch) == [] and recovery.redis_down
    ledger.down = False
    assert recovery.poll() == batch and not recovery.redis_down


def test_keep_going_without_redis_runs_unmarked():
    ledger = MemoryLedger()
    ledger.down = True
    recovery = Recovery(ledger, max_attempts=3, keep_going_without_redis=True)
    batch = msgs(0, [1, 2])
    assert recovery.admit(batch) == batch and recovery.redis_down
