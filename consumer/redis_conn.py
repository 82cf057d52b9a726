"""Redis clients built from a URL, shared by every Redis user of the runtime (dedup, attempt
counts), so one place decides timeouts, retries and how a cluster is named.

URLs:

- ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS), ``unix:///path.sock?db=N``:
  one Redis server (or a proxy in front of several).
- ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` for TLS):
  a Redis Cluster. The hosts are seeds: the client asks them for the slot map and then talks to
  every node directly. Query parameters pass through as for ``redis://``; the database is
  always 0 on a cluster.

Timeouts: 2 s to connect and 5 s per command by default, so a Redis that stopped answering
fails a call within seconds (the caller's breaker then fails fast). A connection that broke
(Redis restarted, an idle connection dropped by a proxy) is retried once at once, and a pooled
connection idle for more than 30 s is checked with a PING before use, so one stale socket does
not count as an outage. A command whose reply was lost may therefore run twice: every command
our Redis users send is safe to repeat, except an attempt increment, which may then count one
extra attempt.

Example::

    client = connect("redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
    client.ping()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from .constants import REDIS_CLUSTER_SCHEMES
from .errors import ConfigError, RedisUnavailable

RedisClient = redis.Redis | RedisCluster

_STANDALONE_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class RedisOptions:
    """Client settings that are not part of the URL."""

    connect_timeout_s: float = 2.0
    command_timeout_s: float = 5.0
    health_check_interval_s: int = 30
    max_connections: int = 64

    def __post_init__(self) -> None:
        if self.connect_timeout_s <= 0 or self.command_timeout_s <= 0:
            raise ConfigError("Redis timeouts must be positive")
        if self.health_check_interval_s < 0 or self.max_connections < 1:
            raise ConfigError("Redis health check interval must be >= 0, max connections >= 1")


def scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _STANDALONE_SCHEMES + REDIS_CLUSTER_SCHEMES:
        raise ConfigError(f"Redis URL {redact(url)!r}: the scheme must be one of "
                          f"{', '.join(_STANDALONE_SCHEMES + REDIS_CLUSTER_SCHEMES)}")
    return scheme


def is_cluster_url(url: str) -> bool:
    return scheme_of(url) in REDIS_CLUSTER_SCHEMES


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, hosts = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}" if user else f"***@{hosts}"))


def cluster_seeds(url: str) -> tuple[str, list[tuple[str, int]]]:
    """``(URL of the first seed as redis:// or rediss://, every seed as (host, port))``."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    seeds: list[tuple[str, int]] = []
    for host_port in hosts.split(","):
        host, _, port = host_port.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"Redis URL {redact(url)!r}: cluster seeds must be host:port")
        seeds.append((host.strip("[]"), int(port)))
    if parts.path not in ("", "/", "/0"):
        raise ConfigError(f"Redis URL {redact(url)!r}: a cluster has only database 0")
    scheme = "rediss" if parts.scheme.lower().startswith("rediss") else "redis"
    first = f"{userinfo}@{hosts.split(',')[0]}" if userinfo else hosts.split(",")[0]
    return urlunsplit((scheme, first.strip(), "", parts.query, "")), seeds


def require_bytes_replies(client: RedisClient) -> RedisClient:
    """Our Redis users read binary replies (digests, packed keys, stream fields): a client
    shared with them must not decode responses to str."""
    if client.get_encoder().decode_responses:
        raise ConfigError("the Redis client given to dedup/attempts must not decode responses "
                          "(decode_responses=False)")
    return client


def connect(url: str, options: RedisOptions | None = None) -> RedisClient:
    """A client for ``url``. A standalone client connects on first use; a cluster client asks
    its seeds for the slot map here, so an unreachable cluster raises ``RedisUnavailable``."""
    options = options or RedisOptions()
    common: dict[str, Any] = {
        "socket_connect_timeout": options.connect_timeout_s,
        "socket_timeout": options.command_timeout_s,
        "health_check_interval": options.health_check_interval_s,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "max_connections": options.max_connections,
    }
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **common)
    first, seeds = cluster_seeds(url)
    try:
        return RedisCluster(url=first, startup_nodes=[ClusterNode(h, p) for h, p in seeds],
                            **common)
    except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
        raise RedisUnavailable(f"Redis Cluster {redact(url)}: {exc}") from exc
