"""The Redis connection for leaderboards and health checks (the cache has its own)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.connection import Connection
from redis.exceptions import NoScriptError


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


# REDIS_URL and REDIS_KEY_PREFIX, read once: a hot read asks for them several times, and
# every attribute of django.conf.settings goes through a lazy proxy. Tests that override
# them send setting_changed.
_settings: dict[str, str] = {}


def _setting(name: str) -> str:
    try:
        return _settings[name]
    except KeyError:
        value = _settings[name] = getattr(settings, name)
        return value


@receiver(setting_changed)
def _forget_settings(**kwargs: Any) -> None:
    _settings.clear()


def get_redis() -> redis.Redis | None:
    """A client for REDIS_URL, or None when the deployment runs without Redis."""
    url = _setting("REDIS_URL")
    return _client(url) if url else None


def redis_key(*parts: object) -> str:
    """A namespaced key; the tenant part is wrapped as a Redis Cluster hash tag."""
    return ":".join([_setting("REDIS_KEY_PREFIX"), *(str(p) for p in parts)])


class _Held(threading.local):
    """This thread's own connection for hot reads (see `run_script`)."""

    connection: Connection | None = None
    pid: int = 0
    url: str = ""


_held = _Held()


def _held_connection(client: redis.Redis) -> Connection:
    held = _held
    url = _setting("REDIS_URL")
    if held.connection is None or held.pid != os.getpid() or held.url != url:
        if held.connection is not None and held.pid == os.getpid():
            held.connection.disconnect()
        pool = client.connection_pool
        held.connection = pool.connection_class(**pool.connection_kwargs)
        held.pid, held.url = os.getpid(), url
    return held.connection


@lru_cache(maxsize=64)
def _sha(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


def run_script(client: redis.Redis, script: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA on this thread's own connection, loading the script when Redis lacks it.

    A read served from Redis at thousands of requests per second: checking a connection out of
    the pool (a lock, a pid check and a readiness poll per command) cost as much CPU here as the
    round trip itself. A read-only script is safe to repeat, so a broken connection is
    reopened and the call made once more.
    """
    command = ("EVALSHA", _sha(script), len(keys), *keys, *args)
    return _read_twice(client, lambda connection: _evalsha(connection, script, command))


def mget_and_script(
    client: redis.Redis, keys: list[str], script: str, script_keys: list[str], args: list[Any]
) -> tuple[list[bytes | None], Any]:
    """MGET `keys` and EVALSHA `script` pipelined in one round trip on this thread's own
    connection (see `run_script`): (the values, the script's answer). Both only read, so a
    broken connection is reopened and the pair sent once more."""
    commands = [("MGET", *keys), ("EVALSHA", _sha(script), len(script_keys), *script_keys, *args)]
    return _read_twice(client, lambda connection: _pair(connection, script, commands))


def _read_twice[T](client: redis.Redis, read: Callable[[Connection], T]) -> T:
    """`read` on this thread's held connection; once more on a reopened one if it broke (only
    for reads, which are safe to repeat)."""
    connection = _held_connection(client)
    try:
        return read(connection)
    except (redis.ConnectionError, redis.TimeoutError):
        connection.disconnect()
        return read(connection)


def _evalsha(connection: Connection, script: str, command: tuple[Any, ...]) -> Any:
    try:
        connection.send_command(*command)
        return connection.read_response()
    except NoScriptError:
        return _load_and_resend(connection, script, command)


def _pair(
    connection: Connection, script: str, commands: list[tuple[Any, ...]]
) -> tuple[list[bytes | None], Any]:
    connection.send_packed_command(connection.pack_commands(commands))
    try:
        values = connection.read_response()
    except BaseException:
        connection.disconnect()  # the script's answer is still on its way: drop both
        raise
    try:
        answer = connection.read_response()
    except NoScriptError:
        answer = _load_and_resend(connection, script, commands[1])
    return values, answer


def _load_and_resend(connection: Connection, script: str, command: tuple[Any, ...]) -> Any:
    """A restarted or flushed Redis forgot the script: load it, send the command again."""
    connection.send_command("SCRIPT", "LOAD", script)
    connection.read_response()
    connection.send_command(*command)
    return connection.read_response()
