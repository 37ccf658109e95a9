"""Per-credential rate limits: a fixed one-minute window counted in the cache (Redis)."""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.redis import get_redis, redis_key

WINDOW_SECONDS = 60


def rate_limit_per_minute(caller: Any, view: Any) -> int:
    """A view's own limit, else the caller's (its tenant's, set in the admin: accounts'
    Principal carries it), else the deployment's `API_RATE_LIMIT_PER_MINUTE`."""
    own = getattr(view, "rate_limit_per_minute", None)
    if own is None:
        own = getattr(caller, "rate_limit_per_minute", None)
    return int(own or settings.API_RATE_LIMIT_PER_MINUTE)


class PerCredentialRateThrottle(BaseThrottle):
    """`rate_limit_per_minute` requests per API key, widget token or manager session.

    A fixed one-minute window, counted in Redis — where DRF's sliding-window throttle reads and
    rewrites a whole history list per request. Each web process adds its requests to the shared
    count in batches (see `LocalBatches`), so a busy client costs a round trip per batch, not
    per request; low limits are counted exactly.
    """

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        # The caller's stable id (accounts' Principal): API key, widget token or session.
        credential = getattr(request.user, "credential", None)
        if not isinstance(credential, str):
            return True  # unauthenticated requests are refused before they cost anything
        limit = rate_limit_per_minute(request.user, view)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"rl:{credential}:{window}"
        count = _batches.count(key, limit, time.monotonic())
        if count is None:  # the cache is unreachable: fail open rather than refuse service
            return True
        if count > limit:
            self.retry_after = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after


class LocalBatches:
    """This process's requests not yet added to the shared count, per window key.

    A request is counted locally while fewer than `limit // BATCH_DIVISOR` are unsent and the
    shared total was read less than `MAX_AGE_SECONDS` ago; otherwise the unsent requests and
    this one go to Redis in one INCRBY, which returns the total of every process. The decision
    uses the last total plus this process's unsent requests, so N web processes may let a
    client exceed its limit by at most N × 1 % within a window — and limits under
    `BATCH_DIVISOR × 2` requests a minute are counted exactly, one round trip per request.
    """

    BATCH_DIVISOR = 100
    MAX_AGE_SECONDS = 0.25

    def __init__(self) -> None:
        # key → [unsent requests, shared total when last synced, monotonic time of that sync]
        self._state: dict[str, list[float]] = {}

    def count(self, key: str, limit: int, now: float) -> int | None:
        slack = limit // self.BATCH_DIVISOR
        state = self._state.get(key)
        if (
            state is not None
            and slack >= 2
            and state[0] + 1 < slack
            and now - state[2] < self.MAX_AGE_SECONDS
        ):
            state[0] += 1
            return int(state[1] + state[0])
        unsent = int(state[0]) if state is not None else 0
        total = _add(key, unsent + 1)
        if total is None:
            return None
        if slack >= 2:
            if key not in self._state and len(self._state) > 10_000:
                self._state.clear()  # old windows' keys: drop them all at once
            self._state[key] = [0, total, now]
        return total


_batches = LocalBatches()


def _add(key: str, amount: int) -> int | None:
    """Add requests to the window's shared count: one round trip to Redis (INCRBY + EXPIRE
    pipelined), or the cache's add/incr elsewhere (the embedded default's local memory)."""
    client = get_redis()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            full = redis_key("rl", key)
            pipe.incrby(full, amount)
            pipe.expire(full, WINDOW_SECONDS + 1, nx=True)
            return int(pipe.execute()[0])
        except redis.RedisError:
            return None
    try:
        if cache.add(key, amount, timeout=WINDOW_SECONDS + 1):
            return amount
        return int(cache.incr(key, amount))
    except ValueError:  # expired between add and incr
        return amount
