"""A member process of ``consumer run --processes N``, seen from both sides: the arguments
that give it its supervisor's settings, the file in which it announces its metrics port, the
core its Python threads run on, its death signal, and how its exit reads in the supervisor's
log."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from . import constants as c
from .config import OPTIONS
from .errors import HandlerLoadError

log = logging.getLogger(__name__)

MEMBER_HOST = "127.0.0.1"
HANDLER_CHECK = """
import sys
from consumer.errors import ConsumerError
from consumer.handler import load_handler
try:
    load_handler(sys.argv[1])
except ConsumerError as exc:
    sys.exit(str(exc))
"""


def member_arguments(args: argparse.Namespace) -> list[str]:
    """The ``consumer run`` arguments giving a member this process's settings: the flags as
    given (flags win over env and TOML, so a member parses to the same values), then
    ``--processes 1``."""
    argv: list[str] = []
    if getattr(args, "config", None):
        argv.append(f"--config={os.path.abspath(args.config)}")
    for opt in OPTIONS:
        value = getattr(args, opt.attr, None)
        if value is None or opt.attr == "processes":
            continue
        if opt.boolean:
            argv.append(f"--{opt.flag}" if value else f"--no-{opt.flag}")
        else:
            argv.append(f"--{opt.flag}={value}")  # one token: a value may start with "-"
    for item in getattr(args, "kafka", None) or ():
        argv.append(f"--kafka={item}")
    return [*argv, "--processes=1"]


def describe_exit(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-status).name}"
        return f"was killed by signal {-status}"
    return f"exited with status {status}"


def announce_port(path: str, port: int) -> None:
    """A member tells its supervisor where its metrics are: written whole, then renamed, so
    the supervisor never reads half a port."""
    partial = f"{path}.{os.getpid()}.partial"
    Path(partial).write_text(f"{port}\n")
    os.replace(partial, path)


def member_port_file() -> str | None:
    """Where this process announces its metrics port: set when it is a supervised member."""
    return os.environ.get(c.ENV_MEMBER_METRICS_FILE) or None


def member_cpus(processes: int) -> list[int | None]:
    """The CPU for each member's Python threads: one core each while there are at least as
    many usable cores as members, else none (the kernel shares them out). A member's Python
    threads take turns under its GIL, so one core is all they can use at a time; kept on it,
    they keep their caches and hand the GIL over without crossing cores, and two members do not
    chase each other around (two members on 2 cores: 100-123k msg/s against 88-103k moving, 5
    interleaved pairs, bench/RESULTS.md)."""
    cpus = sorted(os.sched_getaffinity(0))
    if processes < 2 or processes > len(cpus):
        return [None] * processes
    return list(cpus[:processes])


def pin_to_member_cpu() -> None:
    """Called on the poll thread before it starts any thread of its own: it and the threads it
    starts (handlers, the done-marks writer) stay on the CPU the supervisor chose. librdkafka's
    threads, started earlier, are left free to run beside it."""
    cpu = os.environ.get(c.ENV_MEMBER_CPU)
    if not cpu:
        return
    try:
        os.sched_setaffinity(0, {int(cpu)})   # 0: the calling thread, on Linux
    except (OSError, ValueError) as exc:
        log.warning("could not keep this member on CPU %s (%s): its threads may move", cpu, exc)


def announced_port(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def death_signal() -> Callable[[], None] | None:
    """Runs in each member between fork and exec (Linux): SIGTERM when the supervisor dies.
    Built before the fork, so the child only calls into libc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    supervisor_pid = os.getpid()
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != supervisor_pid:  # it died before the line above: nobody to watch
            os._exit(1)

    return set_death_signal


def check_handler(path: str) -> None:
    """Imports the handler once in a throwaway process before any member starts: a bad
    ``--handler`` is then one error line rather than one per member, and the handler's module
    (and whatever it loads) stays out of the supervisor's memory."""
    check = subprocess.run([sys.executable, "-c", HANDLER_CHECK, path], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
    if check.returncode != 0:
        lines = check.stderr.strip().splitlines()
        raise HandlerLoadError(lines[-1] if lines else f"--handler {path!r} could not be loaded")
