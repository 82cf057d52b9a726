"""The reliability suite: one fault-injection scenario per file, each driving real
``consumer run`` processes against a real broker, Redis and schema registry.

Every scenario comes in two forms:

- SHORT (the default, what CI runs): small streams and short faults that still exercise each
  fault; a few tens of seconds per scenario.
- LONG (the issue's sizes and durations: 100,000 messages and 20 kills, 20 s outages, a
  five-minute rebalance storm, ...), selected with ``RELIABILITY=long``.

Run the suite, with each scenario's figures printed::

    .venv/bin/pytest tests/reliability -m reliability -s                     # short form
    RELIABILITY=long .venv/bin/pytest tests/reliability -m reliability -s    # long form

Each scenario ends with what a user checks: nothing lost (every good id's effect is in the
idempotent SQLite sink, committed offsets reach the end of the topic), every effect once,
exactly one handler call per good id where no process was killed (the kill -9 loop reports the
repeated calls as a figure instead), every bad record dead-lettered with its context (category,
error class, original partition and offset), and no process crashed or hung (exit codes, and
/healthz where a fault could stall the poll loop). Figures go to bench/RESULTS.md.
"""
