"""Clients from URLs: which URL is a cluster, seeds, timeouts, and no password in messages."""

from __future__ import annotations

import pytest
import redis

from consumer.errors import ConfigError, RedisUnavailable
from consumer.redis_conn import (
    RedisOptions,
    cluster_seeds,
    connect,
    is_cluster_url,
    redact,
)
from consumer.services import free_port


@pytest.mark.parametrize("url, cluster", [
    ("redis://localhost:6379/0", False),
    ("rediss://user:pw@cache.internal:6380/2", False),
    ("unix:///run/redis.sock?db=1", False),
    ("redis+cluster://10.0.0.5:7000", True),
    ("rediss+cluster://10.0.0.5:7000,10.0.0.6:7000", True),
])
def test_the_scheme_says_whether_a_url_is_a_cluster(url, cluster):
    assert is_cluster_url(url) is cluster


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "memcached://x"])
def test_other_schemes_are_a_config_error(url):
    with pytest.raises(ConfigError, match="scheme"):
        is_cluster_url(url)


def test_cluster_seeds_keep_credentials_tls_and_query_on_the_first_seed():
    first, seeds = cluster_seeds("rediss+cluster://app:s3cret@a.local:7000,b.local:7001"
                                 "?ssl_cert_reqs=none")
    assert first == "rediss://app:s3cret@a.local:7000?ssl_cert_reqs=none"
    assert seeds == [("a.local", 7000), ("b.local", 7001)]


@pytest.mark.parametrize("url", ["redis+cluster://a.local", "redis+cluster://a:1,b",
                                 "redis+cluster://a:7000/3"])
def test_bad_cluster_urls_are_config_errors(url):
    with pytest.raises(ConfigError):
        cluster_seeds(url)


def test_redact_hides_only_the_password():
    assert redact("redis://app:s3cret@h:1/0") == "redis://app:***@h:1/0"
    assert redact("redis://:s3cret@h:1/0") == "redis://***@h:1/0"
    assert redact("redis://h:1/0") == "redis://h:1/0"


def test_a_standalone_client_gets_the_timeouts_and_connects_lazily():
    client = connect("redis://127.0.0.1:1/0", RedisOptions(connect_timeout_s=0.5,
                                                           command_timeout_s=1.5))
    assert isinstance(client, redis.Redis)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == 0.5
    assert kwargs["socket_timeout"] == 1.5
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_an_unreachable_cluster_is_redis_unavailable_without_the_password():
    url = f"redis+cluster://app:s3cret@127.0.0.1:{free_port()}"
    with pytest.raises(RedisUnavailable) as caught:
        connect(url, RedisOptions(connect_timeout_s=0.5))
    assert "s3cret" not in str(caught.value)


def test_bad_options_are_refused():
    with pytest.raises(ConfigError):
        RedisOptions(command_timeout_s=0)
