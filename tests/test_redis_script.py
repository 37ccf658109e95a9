"""run_script: the hot-read EVALSHA on a held connection survives what Redis does to it."""

from __future__ import annotations

import pytest
import redis

from core import redis as redis_module
from core.redis import get_redis, mget_and_script, redis_key, run_script

SCRIPT = "return {redis.call('GET', KEYS[1]), ARGV[1]}"


@pytest.fixture
def client() -> redis.Redis:
    client = get_redis()
    assert client is not None, "these tests run against Redis"
    client.set(redis_key("script-test"), "stored")
    return client


def call(client: redis.Redis) -> list[bytes]:
    return run_script(client, SCRIPT, [redis_key("script-test")], ["arg"])


def test_the_script_is_loaded_when_redis_does_not_know_it(client: redis.Redis) -> None:
    client.script_flush()
    assert call(client) == [b"stored", b"arg"]
    assert client.script_exists(redis_module._sha(SCRIPT)) == [True]


def test_a_killed_connection_is_reopened_and_the_read_repeated(client: redis.Redis) -> None:
    assert call(client) == [b"stored", b"arg"]
    held = redis_module._held.connection
    assert held is not None
    assert held._sock is not None
    host, port = held._sock.getsockname()[:2]
    assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    assert call(client) == [b"stored", b"arg"]
    assert redis_module._held.connection is held  # the same object, reconnected


def test_a_script_error_reaches_the_caller_and_the_connection_stays_usable(
    client: redis.Redis,
) -> None:
    broken = "return redis.call('NO_SUCH_COMMAND')"
    with pytest.raises(redis.ResponseError):
        run_script(client, broken, [], [])
    assert call(client) == [b"stored", b"arg"]


def test_a_forked_process_opens_its_own_connection(
    client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    call(client)
    parent = redis_module._held.connection
    monkeypatch.setattr(redis_module.os, "getpid", lambda: -1)
    assert call(client) == [b"stored", b"arg"]
    assert redis_module._held.connection is not parent


def pair(client: redis.Redis) -> tuple[list[bytes | None], list[bytes]]:
    keys = [redis_key("script-test"), redis_key("script-missing")]
    return mget_and_script(client, keys, SCRIPT, [redis_key("script-test")], ["arg"])


def test_mget_and_script_loads_the_script_when_redis_does_not_know_it(
    client: redis.Redis,
) -> None:
    client.script_flush()
    assert pair(client) == ([b"stored", None], [b"stored", b"arg"])
    assert client.script_exists(redis_module._sha(SCRIPT)) == [True]


def test_mget_and_script_survives_a_killed_connection(client: redis.Redis) -> None:
    assert pair(client) == ([b"stored", None], [b"stored", b"arg"])
    held = redis_module._held.connection
    assert held is not None
    assert held._sock is not None
    host, port = held._sock.getsockname()[:2]
    assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    assert pair(client) == ([b"stored", None], [b"stored", b"arg"])
    assert call(client) == [b"stored", b"arg"]  # and the connection serves the next read
