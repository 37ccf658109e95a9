"""Per-credential rate limits: a fixed one-minute window counted in the cache (Redis)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.api.auth import Principal

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
        try:
            count = 1 if cache.add(key, 1, timeout=WINDOW_SECONDS + 1) else cache.incr(key)
        except ValueError:  # expired between add and incr
            count = 1
        if count is None:  # the cache is unreachable: fail open rather than refuse service
            return True
        if count > limit:
            self.retry_after = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after
