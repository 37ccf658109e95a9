"""Rate-limit counting in batches: exact for low limits, bounded error for high ones."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.api.throttling import LocalBatches
from core.redis import get_redis, redis_key

pytestmark = pytest.mark.django_db


def shared(key: str) -> int:
    client = get_redis()
    assert client is not None, "these tests run against Redis"
    return int(client.get(redis_key("rl", key)) or 0)


def test_low_limits_are_counted_exactly_in_redis():
    process = LocalBatches()
    assert [process.count("k-low", 150, now=0.0) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert shared("k-low") == 5  # limit 150 → batches of 1: every request is sent


def test_a_process_sends_its_requests_in_batches_of_one_percent():
    process = LocalBatches()
    counts = [process.count("k-batch", 1000, now=0.0) for _ in range(25)]
    assert counts == list(range(1, 26))  # the process's own view is exact
    # batches of 10: sent with the 1st request, then with the 11th and 21st (10 each)
    assert shared("k-batch") == 21


def test_an_old_total_is_refreshed_after_a_quarter_second():
    process = LocalBatches()
    process.count("k-age", 1000, now=0.0)
    process.count("k-age", 1000, now=0.1)
    assert shared("k-age") == 1
    process.count("k-age", 1000, now=0.3)  # the total is 0.3 s old: sent with the unsent one
    assert shared("k-age") == 3


def test_processes_see_each_others_requests_and_overshoot_by_at_most_their_batches():
    limit = 1000
    processes = [LocalBatches() for _ in range(4)]
    allowed = 0
    for n in range(3000):
        count = processes[n % 4].count("k-many", limit, now=0.0)
        assert count is not None
        allowed += count <= limit
    # Without batching exactly 1000 pass; each process may be behind by < 1 % of the limit.
    assert limit <= allowed <= limit + 4 * (limit // 100)


def test_the_api_answers_429_once_the_shared_count_passes_the_limit(api):
    with override_settings(API_RATE_LIMIT_PER_MINUTE=200):  # batches of 2
        statuses = [api.get("/api/v1/whoami").status_code for _ in range(203)]
    assert statuses[:200] == [200] * 200
    assert statuses[200:] == [429] * 3
