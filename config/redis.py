"""The Redis connection for leaderboards and health checks (the cache has its own)."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def get_redis() -> redis.Redis | None:
    """A client for REDIS_URL, or None when the deployment runs without Redis."""
    if not settings.REDIS_URL:
        return None
    return _client(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    """A namespaced key; the tenant part is wrapped as a Redis Cluster hash tag."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])
