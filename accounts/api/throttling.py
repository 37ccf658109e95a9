"""Per-credential rate limits: a fixed one-minute window counted in the cache (Redis)."""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.api.auth import Principal
from config.redis import get_redis, redis_key

WINDOW_SECONDS = 60


class PerCredentialRateThrottle(BaseThrottle):
    """`API_RATE_LIMIT_PER_MINUTE` requests per API key, widget token or manager session.

    A fixed window costs one cache round trip (two on the first request of a window) where
    DRF's sliding-window throttle reads and rewrites a whole history list per request.
    """

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return True  # unauthenticated requests are refused before they cost anything
        limit = int(getattr(view, "rate_limit_per_minute", settings.API_RATE_LIMIT_PER_MINUTE))
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"rl:{principal.credential}:{window}"
        count = _count(key)
        if count is None:  # the cache is unreachable: fail open rather than refuse service
            return True
        if count > limit:
            self.retry_after = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after


def _count(key: str) -> int | None:
    """Count one request in the window: one round trip to Redis (INCR + EXPIRE pipelined),
    or the cache's add/incr elsewhere (the embedded default's local memory)."""
    client = get_redis()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            full = redis_key("rl", key)
            pipe.incr(full)
            pipe.expire(full, WINDOW_SECONDS + 1, nx=True)
            return int(pipe.execute()[0])
        except redis.RedisError:
            return None
    try:
        if cache.add(key, 1, timeout=WINDOW_SECONDS + 1):
            return 1
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        return 1
